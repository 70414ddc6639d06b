"""Issue 11 anchors on ML-100K: every recency-weighted neighbourhood baseline next to the engine.

    python bench/anchors.py /work/shared/data/movielens100k/ml_100k.zip [--stride 1]
                            [--models engine,item-knn,vsknn,sknn,ease,ease-trans,ease-whole,...]
                            [--report DIR]

One prequential replay (every event by default, pessimistic ties broken by cumulative
popularity) of all models, chunks interleaved so they share the machine load. Prints per
model HR@10 ± 95% interval, NDCG@10, events/s and the first-half (events 0..49,999) /
second-half (50,000..99,999) split, then each anchor against its PROTOCOL.md reference
(inside the reference's interval or not) and the engine against the best anchor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import streamrec.replay  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.replay import baselines
from streamrec.replay.movielens import read_movielens
from streamrec.replay.prequential import run_prequential
from streamrec.replay.report import format_table, write_report
from streamrec.shell.replay_commands import build_models

#: PROTOCOL.md, "Stronger anchors" (ML-100K, every event): HR@10, its 95% half-width, NDCG@10.
REFERENCE = {
    "popularity": (0.0753, 0.0016, 0.0364),
    "transitions": (0.1203, 0.0020, 0.0622),
    "ease-whole": (0.1368, 0.0021, 0.0678),
    "sknn": (0.1697, 0.0023, 0.0857),
    "item-knn": (0.1819, 0.0024, 0.0954),
    "vsknn": (0.1875, 0.0024, 0.0963),
    "ease": (0.1887, 0.0024, 0.0974),
    "ease-trans": (0.1920, 0.0024, 0.0999),
}
DEFAULT = "engine,popularity,transitions,item-knn,vsknn,sknn,ease,ease-trans,ease-whole"


def make(name: str) -> list:
    """Models for a bench name (``ease-whole`` is EASE with the whole-history query)."""
    if name == "ease-whole":
        return [baselines.EASE(query_len=None)]
    return build_models([name], warn=lambda msg: print(f"WARNING: {msg}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--report", default=None)
    args = ap.parse_args(argv)

    events, summary = read_movielens(args.path)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    # JIT compilation / cache loading is not billed to the measured replay
    run_prequential(events[:1000], [m for n in names for m in make(n)], chunk=500)
    pairs = [(n, m) for n in names for m in make(n)]
    models = [m for _, m in pairs]
    engine_name = next((m.name for n, m in pairs if n == "engine"), None)
    print(f"ML-100K: {summary.n_valid} events; stride {args.stride}; chunk {args.chunk}")
    result = run_prequential(events, models, stride=args.stride, chunk=args.chunk)
    print(format_table(result))
    print("\nanchors against PROTOCOL.md (every event, pessimistic ties):")
    for name, m in result.models.items():
        if name in REFERENCE and args.stride == 1:
            hr, ci, nd = REFERENCE[name]
            inside = abs(m.all.hr - hr) <= ci
            print(
                f"  {name:<12} HR@10 {m.all.hr:.4f} vs {hr:.4f} ± {ci:.4f} "
                f"({'inside' if inside else 'OUTSIDE'}), NDCG@10 {m.all.ndcg:.4f} vs {nd:.4f}"
            )
    engine = result.models.get(engine_name) if engine_name else None
    anchors = [m for n, m in result.models.items() if n in REFERENCE and n != "popularity"]
    if engine and anchors:
        best = max(anchors, key=lambda m: m.all.hr)
        half = result.n_events // 2
        sec = result.on_range(half, result.n_events)
        print(
            f"\n{engine.name} vs best anchor {best.name}: HR@10 {engine.all.hr / best.all.hr:.3f}x, "
            f"NDCG@10 {engine.all.ndcg / best.all.ndcg:.3f}x; second half HR@10 "
            f"{sec[engine.name][0].hr:.4f} vs {sec[best.name][0].hr:.4f}"
        )
    if args.report:
        extra = {"log": args.path, "bench": "anchors"}
        print("report -> " + ", ".join(map(str, write_report(result, args.report, extra).values())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
