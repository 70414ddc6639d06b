"""Bitwise parity of the engine's per-event ranks on ML-100K (before/after a refactor).

    python bench/rank_parity.py ZIP --save RANKS.npy        # record the ranks
    python bench/rank_parity.py ZIP --compare RANKS.npy     # replay again and compare

Replays the log through ``Recommender().evaluate_and_learn`` in chunks (default 5000, as
``streamrec.replay.prequential`` does; every event evaluated, pessimistic ranks) and
prints HR@10, events/s of the engine calls and, with ``--compare``, the number of events
whose int32 rank differs from the saved file (0 = bitwise identical). A warm-up call on a
throw-away engine compiles the kernels first, so events/s is the steady replay speed
(wall clock, and per CPU-second of this process: less sensitive to a shared machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import streamrec.replay  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.online.recommender import Recommender
from streamrec.replay.movielens import read_movielens
from streamrec.replay.prequential import eval_mask


def replay_ranks(events: list, chunk: int) -> tuple[np.ndarray, float, float]:
    """Per-event int32 ranks (0 = miss / not evaluated), the engine's wall and CPU seconds."""
    evaluate = eval_mask(events, 1)
    ranks = np.zeros(len(events), np.int32)
    rec = Recommender()
    spent = cpu = 0.0
    for lo in range(0, len(events), chunk):
        hi = min(lo + chunk, len(events))
        t0, c0 = time.perf_counter(), time.process_time()
        r = rec.evaluate_and_learn(events[lo:hi], evaluate[lo:hi])
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
        ranks[lo:hi] = np.where(evaluate[lo:hi], r, 0)
    return ranks, spent, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--save", default=None, help="write the ranks to this .npy file")
    ap.add_argument("--compare", default=None, help="compare with ranks saved earlier")
    ap.add_argument("--repeat", type=int, default=1, help="replays to time (best is printed)")
    args = ap.parse_args(argv)

    events, _ = read_movielens(args.path)
    Recommender().evaluate_and_learn(events[:2000], np.ones(2000, np.bool_))  # compile
    best = best_cpu = np.inf
    ranks = np.zeros(0, np.int32)
    for _ in range(max(args.repeat, 1)):
        ranks, spent, cpu = replay_ranks(events, max(args.chunk, 1))
        print(f"  replay: {spent:.2f} s wall, {cpu:.2f} CPU-s")
        best, best_cpu = min(best, spent), min(best_cpu, cpu)
    n_eval = int(eval_mask(events, 1).sum())
    hr = float(((ranks > 0) & (ranks <= 10)).sum()) / max(n_eval, 1)
    print(
        f"events {len(events)}  evaluated {n_eval}  HR@10 {hr:.4f}  "
        f"events/s {len(events) / best:,.0f} wall, {len(events) / best_cpu:,.0f} per CPU-second "
        f"(best of {max(args.repeat, 1)}, chunk {args.chunk})"
    )
    if args.save:
        np.save(args.save, ranks)
        print(f"saved {args.save}")
    if args.compare:
        ref = np.load(args.compare)
        if ref.shape != ranks.shape:
            print(f"DIFFER: {ref.shape[0]} saved events vs {ranks.shape[0]} replayed")
            return 1
        n_diff = int((ref != ranks).sum())
        ref_hr = float(((ref > 0) & (ref <= 10)).sum()) / max(n_eval, 1)
        print(f"differing events: {n_diff} of {ranks.shape[0]}  (saved HR@10 {ref_hr:.4f}, now {hr:.4f})")
        return 1 if n_diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
