"""The engine's own cost per event at large catalogs, next to a brute-force ranking floor.

    python bench/catalog_scale.py [--sizes 20000,100000] [--events 20000] [--batch 100]
    python bench/catalog_scale.py --write-log OUT.jsonl [--sizes 20000] [--events 55000]

``--write-log`` writes the stream of the first size (warm-up and timed events) in the event
contract instead, for ``streamrec replay`` (a log whose catalog outgrows whole-catalog
ranking: the quality side of the retrieval settings).

Synthetic stream: Zipf item popularity, users who mostly move to a "nearby" next item
(so transitions carry signal), one attribute per item. The catalog grows: 90 % of the
items are registered up front with ``add_item_metadata``, the rest arrive with their first
event (``item_attributes``). Settings of the live flow: ``n_candidates=50``,
``rank_before=False``. For each catalog size, in the same run:

* learn: ``Recommender.process_batch(batch, n_candidates=0)`` (learning only);
* engine: ``process_batch(batch, n_candidates=50)``: learn + retrieve + rank top-50
  (IVF ∪ neighbours ∪ trending above ``full_rank_threshold`` items);
* floor: one Numba loop over the item cache, ``<s_A, vsum_j> + wsum_j + pair_j`` for
  every item plus a top-50 insert: what ranking the whole catalog costs at the least.

It prints CPU µs/event of each (process CPU time, less sensitive to a shared machine than
wall time), the ratio engine/floor, the distribution of per-batch CPU and wall times
(p50/p99/max over batches of ``--batch`` events) and what one full ``ivf_build`` costs
on the final state (the pause a periodic rebuild would put into one batch; the engine
keeps its index up in small steps instead, see ``online.retrieval``). Figures are
machine-dependent and noisy on a shared machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

try:
    import streamrec.online  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.flows.engine_step import quiet_gc
from streamrec.online.recommender import Recommender, RecommenderConfig
from streamrec.online.retrieval import ivf_build
from streamrec.online.topk import topk_insert


def synthetic_events(n_items: int, n_events: int, n_users: int, seed: int) -> list[dict]:
    """Events over a catalog whose last 10 % of items appear over the stream."""
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.3, size=n_events * 2)
    last = rng.integers(0, n_items, n_users)
    n0 = int(n_items * 0.9)
    evs = []
    for t in range(n_events):
        known = n0 + (n_items - n0) * t // n_events  # catalog size at event t
        u = int(rng.integers(n_users))
        if rng.random() < 0.6:
            i = int((last[u] + rng.integers(1, 6)) % known)
        else:
            i = int(pop[t] % known)
        last[u] = i
        ev = {
            "user": f"u{u}",
            "item": f"i{i}",
            "ts": 1.7e9 + t,
            "context": {"d": "mobile" if u % 3 else "web"},
        }
        if i >= n0:
            ev["item_attributes"] = {"cat": f"c{i // 100}"}
        evs.append(ev)
    return evs


def new_engine(n_items: int, config: RecommenderConfig | None = None) -> Recommender:
    """An engine (default settings unless ``config``) that knows 90 % of the catalog."""
    rec = Recommender(config or RecommenderConfig())
    for i in range(int(n_items * 0.9)):
        rec.add_item_metadata(f"i{i}", {"cat": f"c{i // 100}"})
    return rec


@njit(cache=True)
def floor_rank(sa, vsum, wsum, pair, n, out_idx, out_score, k):
    """Brute force: score every item from its cache row, keep the top ``k``."""
    n_out = 0
    for j in range(n):
        s = float(wsum[j]) + pair[j]
        for f in range(sa.shape[0]):
            s += sa[f] * vsum[j, f]
        n_out = topk_insert(j, s, out_idx, out_score, n_out, k)
    return n_out


def time_floor(rec: Recommender, n_items: int, reps: int = 200) -> float:
    it = rec._st.items
    rng = np.random.default_rng(0)
    idx, sc = np.zeros(50, np.int64), np.zeros(50)
    sas = rng.standard_normal((reps, it.vsum.shape[1])) * 0.1
    floor_rank(sas[0], it.vsum, it.wsum, it.pair, n_items, idx, sc, 50)  # compile
    t = time.process_time()
    for r in range(reps):
        floor_rank(sas[r], it.vsum, it.wsum, it.pair, n_items, idx, sc, 50)
    return (time.process_time() - t) / reps * 1e6


def build_cost(rec: Recommender) -> float:
    """CPU seconds of one full ``ivf_build`` (k-means + relink of every item) on a copy
    of the engine's state: the pause a periodic rebuild puts on the event path."""
    twin = Recommender.from_state(rec.export_state(), rec.config)
    st, c = twin._st, twin._st.ctr[0]
    ivf_build(st.items, st.ivf, st.ctr, int(c["n_clusters"]), 1, 4)  # compiles
    t = time.process_time()
    ivf_build(st.items, st.ivf, st.ctr, int(c["n_clusters"]), 1, 4)
    return time.process_time() - t


def run(rec: Recommender, evs: list[dict], warm: int, batch: int, n_cand: int):
    """CPU and wall seconds per batch (``[n_batches, 2]``) after ``warm`` untimed events,
    with the flow's garbage-collector settings (``flows.engine_step.quiet_gc``)."""
    for s in range(0, warm, batch):
        rec.process_batch(evs[s : s + batch], n_candidates=n_cand, rank_before=False)
    quiet_gc()  # as the flow does: no full collections of the bench's own objects in a batch
    times = []
    for s in range(warm, len(evs), batch):
        t, c = time.perf_counter(), time.process_time()
        rec.process_batch(evs[s : s + batch], n_candidates=n_cand, rank_before=False)
        times.append((time.process_time() - c, time.perf_counter() - t))
    return np.array(times)


def write_log(path: str, n_items: int, n_events: int, n_users: int) -> int:
    """The synthetic stream as JSON lines of click events (ids ``e<t>``)."""
    with open(path, "w", encoding="utf-8") as f:
        for t, ev in enumerate(synthetic_events(n_items, n_events, n_users, n_items)):
            f.write(json.dumps({"event_id": f"e{t}", "type": "click", **ev}) + "\n")
    print(f"{n_events} clicks over up to {n_items} items -> {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--events", type=int, default=20_000, help="timed events per size")
    ap.add_argument("--warm", type=int, default=5000, help="untimed warm-up events")
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=100, help="events per process_batch")
    ap.add_argument("--write-log", metavar="OUT.jsonl", help="write the stream as a log and stop")
    args = ap.parse_args(argv)
    if args.write_log:
        return write_log(args.write_log, int(args.sizes.split(",")[0]), args.warm + args.events, args.users)
    new_engine(10).process_batch(synthetic_events(10, 10, 2, 0), 50)  # compile first
    print(
        "CPU µs/event (process CPU time: the machine is shared); per-batch ms of"
        f" {args.batch}-event batches, CPU and wall"
    )
    print(
        f"{'items':>7} {'learn':>7} {'engine':>7} {'floor':>7} {'eng/floor':>9}"
        f" {'cpu p50':>8} {'p99':>7} {'max':>7} {'wall p50':>9} {'p99':>7} {'max':>7}"
    )
    for n_items in [int(x) for x in args.sizes.split(",")]:
        evs = synthetic_events(n_items, args.warm + args.events, args.users, n_items)
        learn = run(new_engine(n_items), evs, args.warm, args.batch, 0)
        rec = new_engine(n_items)
        eng = run(rec, evs, args.warm, args.batch, 50)
        floor = time_floor(rec, n_items)
        us_l, us_e = (x[:, 0].sum() / args.events * 1e6 for x in (learn, eng))
        pct = [np.percentile(eng[:, w], q) * 1e3 for w in (0, 1) for q in (50, 99, 100)]
        print(
            f"{n_items:>7} {us_l:>7.1f} {us_e:>7.1f} {floor:>7.1f} {us_e / floor:>8.2f}x"
            + "".join(f" {x:>7.2f}" for x in pct[:3])
            + f"  {pct[3]:>7.2f}"
            + "".join(f" {x:>7.2f}" for x in pct[4:]),
            flush=True,
        )
        c = rec._st.ctr[0]
        print(
            f"        IVF: {int(c['n_clusters'])} buckets; a full ivf_build would cost"
            f" {build_cost(rec) * 1e3:.1f} ms CPU in one batch (main: every"
            f" {rec.config.ivf_refresh_events:,} events)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
