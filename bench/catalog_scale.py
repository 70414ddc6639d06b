"""Catalog-size scaling of learn + retrieve + rank, next to a plain-numpy reference.

    python bench/catalog_scale.py [--sizes 1000,10000,100000] [--events 10000] [--k 16]

Synthetic stream: Zipf item popularity, users who mostly move to a "nearby" next item
(so transitions carry signal), one attribute per item; the whole catalog is registered
up front with ``add_item_metadata``. For each catalog size it times, in the same run:

* engine: ``Recommender.process_batch(chunk, n_candidates=10)`` - learn each event
  (positive + negatives), then retrieve and rank top-10 for the user (full scoring up to
  ``full_rank_threshold`` items, IVF ∪ neighbours ∪ trending above it);
* reference: plain numpy MF, per event one full-catalog score ``V @ u`` + argpartition
  top-10 + one SGD step on (user, item) and one sampled negative.

It prints events/s of both and their ratio. Figures are machine-dependent; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import streamrec.online  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.online.recommender import Recommender, RecommenderConfig  # noqa: E402


def synthetic_events(n_items: int, n_events: int, n_users: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.3, size=n_events * 2) % n_items
    last = rng.integers(0, n_items, n_users)
    evs = []
    for t in range(n_events):
        u = int(rng.integers(n_users))
        if rng.random() < 0.6:
            i = int((last[u] + rng.integers(1, 6)) % n_items)
        else:
            i = int(pop[t])
        last[u] = i
        evs.append({"user": f"u{u}", "item": f"i{i}", "ts": 1.7e9 + t,
                    "context": {"d": "mobile" if u % 3 else "web"}})
    return evs


def bench_engine(n_items: int, evs: list[dict], warm: int, k: int) -> float:
    rec = Recommender(RecommenderConfig(k=k))
    for i in range(n_items):
        rec.add_item_metadata(f"i{i}", {"cat": f"c{i // 100}"})
    rec.process_batch(evs[:warm], n_candidates=10)
    t = time.perf_counter()
    for s in range(warm, len(evs), 2000):
        rec.process_batch(evs[s:s + 2000], n_candidates=10)
    return (len(evs) - warm) / (time.perf_counter() - t)


def bench_numpy(n_items: int, evs: list[dict], warm: int, k: int, lr: float = 0.05) -> float:
    rng = np.random.default_rng(0)
    v_items = (rng.standard_normal((n_items, k)) * 0.05).astype(np.float32)
    users: dict[str, np.ndarray] = {}
    enc = [(e["user"], int(e["item"][1:])) for e in evs]

    def step(u: str, i: int) -> None:
        pu = users.setdefault(u, (rng.standard_normal(k) * 0.05).astype(np.float32))
        scores = v_items @ pu
        np.argpartition(-scores, 10)[:10]
        for j, y in ((i, 1.0), (int(rng.integers(n_items)), 0.0)):
            g = 1.0 / (1.0 + np.exp(-float(pu @ v_items[j]))) - y
            pu_old = pu.copy()
            pu -= lr * g * v_items[j]
            v_items[j] -= lr * g * pu_old

    for u, i in enc[:warm]:
        step(u, i)
    t = time.perf_counter()
    for u, i in enc[warm:]:
        step(u, i)
    return (len(enc) - warm) / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--events", type=int, default=10_000, help="timed events per size")
    ap.add_argument("--warm", type=int, default=5000, help="untimed warm-up events")
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--k", type=int, default=16)
    args = ap.parse_args(argv)
    print(f"{'items':>8} {'engine ev/s':>12} {'numpy ev/s':>11} {'ratio':>6}")
    for n_items in [int(x) for x in args.sizes.split(",")]:
        evs = synthetic_events(n_items, args.warm + args.events, args.users, seed=n_items)
        eng = bench_engine(n_items, evs, args.warm, args.k)
        ref = bench_numpy(n_items, evs, args.warm, args.k)
        print(f"{n_items:>8} {eng:>12,.0f} {ref:>11,.0f} {eng / ref:>6.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
