"""What running P engines at once gives on this machine: the ceiling of any scale-out here.

    python bench/parallel_capacity.py [--items 20000] [--events 20000] [--processes 1,2]

``P`` processes each run their own engine over ``bench/catalog_scale.py``'s stream (the live
flow's call: ``n_candidates=50``, ``rank_before=False``, batches of 100), with no Kafka, no
RocksDB and nothing shared; the timed part starts in all of them at once (a barrier after
each one's warm-up). Prints the aggregate events/s per P and its ratio to the first P. On
cores of their own, P engines reach P x one; below that, the machine (shared caches, memory
bandwidth, virtual CPUs) caps every P-process cluster, whatever the flow does.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

from catalog_scale import new_engine, synthetic_events


def _engine_loop(n_items: int, n_events: int, warm: int, seed: int, barrier, out) -> None:
    rec = new_engine(n_items)
    evs = synthetic_events(n_items, warm + n_events, 5000, seed)
    for s in range(0, warm, 100):
        rec.process_batch(evs[s : s + 100], n_candidates=50, rank_before=False)
    barrier.wait()
    t = time.perf_counter()
    for s in range(warm, len(evs), 100):
        rec.process_batch(evs[s : s + 100], n_candidates=50, rank_before=False)
    out.put(time.perf_counter() - t)


def concurrent_rate(n_proc: int, n_items: int, n_events: int, warm: int = 5000) -> float:
    """Aggregate events/s of ``n_proc`` engines timed together (see the module docstring)."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n_proc), ctx.Queue()
    procs = [
        ctx.Process(target=_engine_loop, args=(n_items, n_events, warm, n_items + p, barrier, out))
        for p in range(n_proc)
    ]
    for p in procs:
        p.start()
    walls = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return n_proc * n_events / max(walls)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=20_000, help="timed events per process")
    ap.add_argument("--processes", default="1,2")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.processes.split(",")]
    base = None
    for n in sizes:
        rate = concurrent_rate(n, args.items, args.events)
        base = base or rate
        print(f"{n} engine process{'es' if n > 1 else '  '} at once: {rate:9,.0f} events/s   x{rate / base:4.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
