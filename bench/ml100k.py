"""ML-100K prequential bench: the engine next to the baselines, from ONE replay.

    python bench/ml100k.py PATH_TO_ml_100k.zip [--stride 1] [--river-max-events 20000]
                           [--models engine,popularity,decayed,transitions,river-fm] [--report DIR]

Prints HR@10 ± 95% interval, NDCG@10, warm HR@10 and events/s per model, the engine's
events/s over River FMClassifier's, and the engine's HR@10 over the best baseline's. River's
FM learns ~1k events/s, so by default it replays only the first ``--river-max-events``
events (printed); the figures of every model on that same prefix are printed too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import streamrec.replay  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.replay.movielens import read_movielens  # noqa: E402
from streamrec.replay.prequential import run_prequential  # noqa: E402
from streamrec.replay.report import format_table, write_report  # noqa: E402
from streamrec.shell.replay_commands import build_models, warm_up  # noqa: E402

FAST_BASELINES = ("popularity", "decayed", "transitions")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument(
        "--river-max-events", type=int, default=20_000, help="River models replay only this prefix (0 = the whole log)"
    )
    ap.add_argument("--models", default="engine,popularity,decayed,transitions,river-fm")
    ap.add_argument("--report", default=None)
    args = ap.parse_args(argv)

    events, summary = read_movielens(args.path)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    river_max = args.river_max_events or None
    warn = lambda msg: print(f"WARNING: {msg}")  # noqa: E731
    warm_up(names, events)
    pairs = [(n, m) for n in names for m in build_models([n], river_max, warn)]
    models = [m for _, m in pairs]
    label = {m.name: n for n, m in pairs}
    print(
        f"ML-100K: {summary.n_valid} events ({summary.n_invalid} invalid), "
        f"{len({e.user for e in events})} users, {len({e.item for e in events})} items; "
        f"stride {args.stride}; chunk {args.chunk}"
    )
    result = run_prequential(events, models, stride=args.stride, chunk=args.chunk)
    print(format_table(result))

    by_label = {label[n]: m for n, m in result.models.items()}
    engine, river = by_label.get("engine"), by_label.get("river-fm")
    if engine and river:
        print(
            f"engine events/s / River FMClassifier events/s = "
            f"{engine.events_per_s / river.events_per_s:,.1f}x "
            f"(River on the first {river.n_events} events)"
        )
    base = {n: by_label[n] for n in FAST_BASELINES if n in by_label}
    if engine and base:
        best = max(base.values(), key=lambda m: m.all.hr)
        print(
            f"engine vs best baseline ({best.name}): HR@10 {engine.all.hr:.4f} / {best.all.hr:.4f} = "
            f"{engine.all.hr / max(best.all.hr, 1e-12):.3f}x; NDCG@10 "
            f"{engine.all.ndcg:.4f} / {best.all.ndcg:.4f}"
        )
    if engine and river and river.n_events < result.n_events:
        pre = result.on_prefix(river.n_events)
        print(
            f"engine vs River FM on the first {river.n_events} events: HR@10 "
            f"{pre[engine.name][0].hr:.4f} vs {pre[river.name][0].hr:.4f}"
        )
    if args.report:
        files = write_report(result, args.report, {"log": args.path, "bench": "ml100k"})
        print("report -> " + ", ".join(str(p) for p in files.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
