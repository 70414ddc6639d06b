"""The cost of engine settings B relative to settings A, on one stream, in one process.

    python bench/settings_cost.py --b knn_candidates=200,n_trending=100 [--a ''] [--items 20000]

Two engines (settings A and B, ``RecommenderConfig`` fields as ``key=value`` pairs over the
defaults) process the stream of ``bench/catalog_scale.py`` in the live flow's way
(``n_candidates=50``, ``rank_before=False``), interleaved batch by batch and alternating
which goes first, so that the slow and fast moments of a shared machine hit both alike
(one run of a whole bench after the other can differ by a third here). Prints CPU
µs/event of each and the ratio B/A (totals, and the median of the per-batch ratios). Both
engines share the caches, so the absolute figures are above a solo run's
(``catalog_scale.py``); the ratio is the result. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from catalog_scale import new_engine, synthetic_events

from streamrec.online.recommender import RecommenderConfig
from streamrec.state.settings import check_config, requested_settings, split_sets


def config(spec: str) -> RecommenderConfig:
    """The defaults with ``key=value`` pairs (comma separated), read as ``--model-set`` reads them."""
    return check_config(requested_settings(sets=split_sets(spec)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", default="", help="settings A (default: the defaults)")
    ap.add_argument("--b", default="", help="settings B")
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=20_000, help="timed events")
    ap.add_argument("--warm", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args(argv)
    n = args.items
    evs = synthetic_events(n, args.warm + args.events, 5000, n)
    engines = [new_engine(n, config(spec)) for spec in (args.a, args.b)]
    for s in range(0, args.warm, args.batch):
        for rec in engines:
            rec.process_batch(evs[s : s + args.batch], n_candidates=50, rank_before=False)
    cpu: list[list[float]] = [[], []]
    for b, s in enumerate(range(args.warm, len(evs), args.batch)):
        for e in (0, 1) if b % 2 == 0 else (1, 0):
            t = time.thread_time()
            engines[e].process_batch(evs[s : s + args.batch], n_candidates=50, rank_before=False)
            cpu[e].append(time.thread_time() - t)
    a, b_ = np.array(cpu[0]), np.array(cpu[1])
    print(f"{n} items, {args.events} events, batches of {args.batch}, interleaved")
    print(f"A [{args.a or 'defaults'}]: {a.sum() / args.events * 1e6:.1f} CPU µs/event")
    print(f"B [{args.b or 'defaults'}]: {b_.sum() / args.events * 1e6:.1f} CPU µs/event")
    print(f"B/A: {b_.sum() / a.sum():.3f} (median of per-batch ratios {np.median(b_ / a):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
