"""Read a JSONL log of click events (plain or gzip) into event-time order.

Each line is one JSON object in the contract of :mod:`streamrec.contract.events`; it is
validated with :func:`streamrec.contract.events.parse_click`. A bad line never stops the
read: it is counted under its reason code (the text before the first ``:``).
Valid events are stably sorted by ``ts``, so events with equal timestamps keep
their file order.

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "log.jsonl")
>>> with open(p, "w") as f:
...     _ = f.write('{"event_id":"a","ts":1700000001,"user":"u","item":"x"}\\n')
...     _ = f.write('not json\\n')
...     _ = f.write('{"event_id":"b","ts":1700000000,"user":"u","item":"y"}\\n')
>>> events, summary = read_jsonl(p)
>>> [e.event_id for e in events], summary.n_valid, summary.invalid
(['b', 'a'], 2, {'malformed_json': 1})
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from streamrec.contract.events import ClickEvent, InvalidEvent, parse_click


@dataclass
class ReadSummary:
    """What a read produced: valid count, invalid counts per reason, sort info."""

    n_lines: int = 0
    n_valid: int = 0
    n_blank: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    examples: dict[str, int] = field(default_factory=dict)  # reason -> first line number (1-based)
    n_out_of_order: int = 0  # valid events whose ts is below an earlier line's ts

    @property
    def n_invalid(self) -> int:
        return sum(self.invalid.values())

    def to_dict(self) -> dict:
        return {
            "n_lines": self.n_lines,
            "n_valid": self.n_valid,
            "n_blank": self.n_blank,
            "n_invalid": self.n_invalid,
            "invalid": dict(self.invalid),
            "first_line_per_reason": dict(self.examples),
            "n_out_of_order": self.n_out_of_order,
        }


def reason_code(reason: str) -> str:
    """Short code of an :class:`InvalidEvent` reason (``"missing_field: ts"`` -> ``"missing_field"``)."""
    return reason.split(":", 1)[0].strip() or "invalid"


def parse_lines(lines: Iterable[bytes | str]) -> tuple[list[ClickEvent], ReadSummary]:
    """Parse lines into events sorted by ts (stable) plus a summary; never raises on bad lines."""
    summary = ReadSummary()
    counts: Counter[str] = Counter()
    events: list[ClickEvent] = []
    max_ts = float("-inf")
    for lineno, line in enumerate(lines, start=1):
        summary.n_lines += 1
        stripped = line.strip()
        if not stripped:
            summary.n_blank += 1
            continue
        try:
            ev = parse_click(stripped)
        except InvalidEvent as exc:
            code = reason_code(exc.reason)
            counts[code] += 1
            summary.examples.setdefault(code, lineno)
            continue
        if ev.ts < max_ts:
            summary.n_out_of_order += 1
        max_ts = max(max_ts, ev.ts)
        events.append(ev)
    summary.n_valid = len(events)
    summary.invalid = dict(counts)
    events.sort(key=lambda e: e.ts)  # list.sort is stable
    return events, summary


def open_log(path: str | Path) -> io.BufferedIOBase:
    """Open a log for binary reading, transparently gunzipping ``.gz`` or gzip-magic files."""
    p = Path(path)
    with open(p, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(p, "rb")
    return open(p, "rb")


def _lines_until_error(f: io.BufferedIOBase, errors: list[str]) -> Iterable[bytes]:
    try:
        yield from f
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip stream: keep what was read
        errors.append(f"{type(exc).__name__}: {exc}")


def read_jsonl(path: str | Path) -> tuple[list[ClickEvent], ReadSummary]:
    """Read a (possibly gzip'd) JSONL click log: events in event-time order and a summary.

    A truncated/corrupt gzip stream keeps the events read so far and is counted
    under ``invalid["truncated_file"]``.
    """
    errors: list[str] = []
    with open_log(path) as f:
        events, summary = parse_lines(_lines_until_error(f, errors))
    if errors:
        summary.invalid["truncated_file"] = 1
    return events, summary
