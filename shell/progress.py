"""A one-line progress bar with rate and ETA for long commands (replay, ope, produce).

Drawn on stderr only when stderr is a terminal (and ``enabled`` is not False), redrawn at
most every ``min_interval_s``; silent when piped, so logs and JSON output stay clean::

    replay   42,000/100,000 [=========>            ]  42%  51,230/s  ETA 0:01

>>> import io
>>> out = io.StringIO()
>>> with Progress("demo", total=4, stream=out, enabled=True, min_interval_s=0) as bar:
...     bar.update(2)
>>> "2/4" in out.getvalue() and "50%" in out.getvalue()
True
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

WIDTH = 24


class Progress:
    """Counts work done; draws ``label done/total [bar] pct rate ETA`` on a terminal."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        min_interval_s: float = 0.2,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.min_interval_s = min_interval_s
        self.done = 0
        self.t0 = time.perf_counter()
        self._drawn_at = float("-inf")

    def update(self, n: int = 1) -> None:
        """Add ``n`` units of work done; redraw if due."""
        self.done += n
        now = time.perf_counter()
        if self.enabled and now - self._drawn_at >= self.min_interval_s:
            self._drawn_at = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The progress line as it would be drawn now."""
        elapsed = max((time.perf_counter() if now is None else now) - self.t0, 1e-9)
        rate = self.done / elapsed
        per_s = f"{rate:,.1f}/s" if rate < 10 else f"{rate:,.0f}/s"  # slow units (model fits) keep a decimal
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            frac = min(self.done / self.total, 1.0)
            fill = int(frac * WIDTH)
            bar = "=" * fill + (">" if fill < WIDTH else "") + " " * max(WIDTH - fill - 1, 0)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            return f"{self.label} {self.done:,}/{self.total:,}{unit} [{bar}] {frac:4.0%} {per_s} ETA {_clock(eta)}"
        return f"{self.label} {self.done:,}{unit} {per_s} elapsed {_clock(elapsed)}"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.line(now) + "\033[K")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final line and end it."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _clock(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
