"""Replay report: ``metrics.json`` plus PNG plots (matplotlib, Agg backend).

* ``rolling_hr.png``   : HR@k over a trailing window of evaluations, against the event index,
  one line per model (engine and every anchor) with its 95% band (``1.96 sqrt(p(1-p)/w)``
  over the window), the halves' boundary dashed (a subsampled model's line stops early);
* ``events_per_s.png`` : events/s of the whole replay per model (log scale);
* ``table.md``         : per model HR@k ± 95% interval, NDCG@k, warm HR@k, events/s, and HR@k
  on the first and the second half of the events (defaults are chosen on the first half,
  the second half is the held-out figure).

>>> import tempfile, numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> from streamrec.replay.prequential import run_prequential
>>> from streamrec.replay.baselines import Popularity
>>> ev = [ClickEvent(str(n), 1.7e9 + n, f"u{n % 3}", f"i{n % 5}") for n in range(30)]
>>> d = tempfile.mkdtemp()
>>> sorted(p.name for p in write_report(run_prequential(ev, [Popularity()]), d).values())
['events_per_s.png', 'metrics.json', 'rolling_hr.png', 'table.md']
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from streamrec.replay.metrics import RankSummary, rolling_hit_rate
from streamrec.replay.prequential import ReplayResult


def _finite(obj: Any) -> Any:
    """Replace non-finite floats (e.g. inf events/s of an empty run) by None for strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_metrics(result: ReplayResult, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the replay figures (and ``extra`` fields) as JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {**result.to_dict(), **(extra or {})}
    p.write_text(json.dumps(_finite(data), indent=2, allow_nan=False))
    return p


def plot_rolling_hr(result: ReplayResult, path: str | Path, window: int | None = None) -> Path:
    """Rolling HR@k per model against the event index."""
    n_eval = int(result.evaluate.sum())
    window = window or max(50, n_eval // 25)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for name, m in result.models.items():
        idx = np.flatnonzero(result.evaluate[: m.n_events])
        if idx.size == 0:
            continue
        hr = rolling_hit_rate(m.ranks[idx], window, result.k)
        w = np.minimum(np.arange(1, idx.size + 1), window)
        band = 1.96 * np.sqrt(hr * (1.0 - hr) / w)
        (line,) = ax.plot(
            idx,
            hr,
            lw=1.3,
            label=f"{name} (HR@{result.k} {m.all.hr:.4f} ± "
            f"{m.all.hr_ci:.4f}" + (f", first {m.n_events} ev.)" if m.n_events < result.n_events else ")"),
        )
        ax.fill_between(
            idx, np.clip(hr - band, 0, 1), np.clip(hr + band, 0, 1), color=line.get_color(), alpha=0.12, lw=0
        )
    if result.n_events >= 2:
        ax.axvline(result.n_events // 2, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("event index (event-time order)")
    ax.set_ylabel(f"HR@{result.k}, trailing {window} evaluations")
    ax.set_title(f"Prequential HR@{result.k} (stride {result.stride}, {result.n_events} events)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the lines
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_throughput(result: ReplayResult, path: str | Path) -> Path:
    """Bar chart of events/s of the whole replay per model (log scale)."""
    names = list(result.models)
    rates = [result.models[n].events_per_s for n in names]
    rates = [r if math.isfinite(r) else 0.0 for r in rates]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = [
        n if result.models[n].n_events >= result.n_events else f"{n}\n(first {result.models[n].n_events} ev.)"
        for n in names
    ]
    bars = ax.bar(labels, rates, color="tab:blue")
    for b, r in zip(bars, rates):
        ax.annotate(f"{r:,.0f}", (b.get_x() + b.get_width() / 2, r), ha="center", va="bottom", fontsize=8)
    if any(r > 0 for r in rates):
        ax.set_yscale("log")
        ax.set_ylim(bottom=10 ** math.floor(math.log10(min(r for r in rates if r > 0))))
    ax.set_ylabel("events/s (whole replay, learn + rank)")
    ax.set_title("Replay throughput per model")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _hr(a: RankSummary) -> str:
    return f"{a.hr:.4f} ± {a.hr_ci:.4f}"


def table_rows(result: ReplayResult) -> list[dict[str, str]]:
    """One dict of formatted cells per model: the whole replay and its two halves."""
    k, half = result.k, result.n_events // 2
    first, second = result.on_range(0, half), result.on_range(half, result.n_events)
    rows = []
    for name, m in result.models.items():
        rows.append(
            {
                "model": name,
                "events": str(m.n_events),
                "evals": str(m.all.n),
                f"HR@{k}": _hr(m.all),
                f"NDCG@{k}": f"{m.all.ndcg:.4f}",
                f"warm HR@{k}": f"{m.warm.hr:.4f}",
                "events/s": f"{m.events_per_s:,.0f}" if math.isfinite(m.events_per_s) else "-",
                f"1st half HR@{k}": _hr(first[name][0]) if first[name][0].n else "-",
                f"2nd half HR@{k}": _hr(second[name][0]) if second[name][0].n else "-",
                f"2nd half NDCG@{k}": f"{second[name][0].ndcg:.4f}" if second[name][0].n else "-",
            }
        )
    return rows


def format_table(result: ReplayResult) -> str:
    """Plain-text table: HR@k ± 95% interval, NDCG@k, warm HR@k, events/s, the halves' HR@k."""
    rows = table_rows(result)
    cols = list(rows[0]) if rows else ["model"]
    width = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in cols}
    head = " ".join(c.ljust(width[c]) if c == "model" else c.rjust(width[c]) for c in cols)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(" ".join(r[c].ljust(width[c]) if c == "model" else r[c].rjust(width[c]) for c in cols))
    half = result.n_events // 2
    lines.append(f"halves: events 0..{half - 1} and {half}..{result.n_events - 1}")
    k = result.k
    for m in [m for m in result.models.values() if m.n_events < result.n_events]:
        lines.append(
            f"note: {m.name} replayed only the first {m.n_events} of {result.n_events} "
            f"events (subsample); same prefix for the others:"
        )
        for name, (a, w) in result.on_prefix(m.n_events).items():
            lines.append(
                f"  {name:<16} HR@{k} {a.hr:.4f} ± {a.hr_ci:.4f}  NDCG@{k} {a.ndcg:.4f}"
                f"  warm HR@{k} {w.hr:.4f}  (n={a.n})"
            )
    return "\n".join(lines)


def markdown_table(result: ReplayResult) -> str:
    """The rows of :func:`table_rows` as a Markdown table (the report's ``table.md``)."""
    rows = table_rows(result)
    if not rows:
        return ""
    cols = list(rows[0])
    half = result.n_events // 2
    title = (
        f"Prequential replay: {result.n_events} events, stride {result.stride}, "
        f"{int(result.evaluate.sum())} evaluated; halves = events 0..{half - 1} and "
        f"{half}..{result.n_events - 1}; ± = 95% interval."
    )
    out = [title, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_report(result: ReplayResult, out_dir: str | Path, extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``metrics.json``, ``rolling_hr.png``, ``events_per_s.png`` and ``table.md``."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "table.md").write_text(markdown_table(result))
    return {
        "table": d / "table.md",
        "metrics": write_metrics(result, d / "metrics.json", extra),
        "rolling_hr": plot_rolling_hr(result, d / "rolling_hr.png"),
        "events_per_s": plot_throughput(result, d / "events_per_s.png"),
    }
