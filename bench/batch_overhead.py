"""What a batch costs besides its events: the engine and the flow's step at small batches.

    python bench/batch_overhead.py [--batches 1,10,100,1000] [--events 12000]

At low rates Bytewax hands the engine step small batches (a few events each), and each
batch pays fixed costs: the Numba dispatcher typing the ~100 arrays of the engine's state
on every call, the NumPy set-up of slates and outputs, metrics. So the CPU per event grows
as batches shrink. Both parts run without Kafka, in this process, on the paced stream of
``bench/flow_throughput.py`` (the whole 20k catalog) after a warm-up of 30k events:

* engine: ``Recommender.process_batch`` as the flow calls it, ``run_batch`` reached through
  ``online.jit.FastCall`` (the engine's way) and through the Numba dispatcher (the
  reference), on two copies of one state, interleaved batch by batch;
* flow step: ``EngineLogic.on_batch`` (parse, reward join, engine, slates, messages,
  metrics; recovery on, no snapshot taken) on the same stream, one fresh step per batch size
  (so these columns are solo runs: on a shared machine they swing by up to a third).

Per batch size it prints µs/event, then the fixed cost ``f`` per batch of
``µs/event = a + f / B`` through the smallest and the largest batch size. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bytewax.connectors.kafka import KafkaSourceMessage
from flow_throughput import payloads

try:
    import streamrec.online  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.contract.config import RunConfig
from streamrec.contract.events import parse_event
from streamrec.flows.engine_step import EngineLogic
from streamrec.online.engine_kernel import run_batch
from streamrec.online.recommender import Recommender, RecommenderConfig


def per_batch(batches: list[int], us: list[float]) -> float:
    """``f`` of ``us = a + f / B`` through the smallest and the largest batch size."""
    lo, hi = int(np.argmin(batches)), int(np.argmax(batches))
    return (us[lo] - us[hi]) / (1.0 / batches[lo] - 1.0 / batches[hi])


def engine_part(warm: list, live: list, sizes: list[int]) -> list[tuple[float, float]]:
    """Per batch size: CPU µs/event through FastCall and through the dispatcher."""
    base = Recommender(RecommenderConfig())
    for s in range(0, len(warm), 1000):
        base.process_batch(warm[s : s + 1000], n_candidates=50)
    state = base.export_state()
    rows = []
    for size in sizes:
        fast = Recommender.from_state(copy.deepcopy(state), base.config)
        slow = Recommender.from_state(copy.deepcopy(state), base.config)
        slow._run_batch = lambda _key, *args: run_batch(*args)  # the dispatcher on every call
        cpu = [0.0, 0.0]
        for b, s in enumerate(range(0, len(live), size)):
            for e in (0, 1) if b % 2 == 0 else (1, 0):
                t = time.thread_time()
                (fast, slow)[e].process_batch(live[s : s + size], n_candidates=50)
                cpu[e] += time.thread_time() - t
        rows.append((cpu[0] / len(live) * 1e6, cpu[1] / len(live) * 1e6))
    return rows


def _messages(vals: list[bytes], start: int) -> list[KafkaSourceMessage]:
    now = (1, int(time.time() * 1000))
    return [
        KafkaSourceMessage(None, v, "clicks", offset=start + i, partition=0, timestamp=now) for i, v in enumerate(vals)
    ]


def flow_part(warm: list[bytes], live: list[bytes], size: int) -> tuple[float, float]:
    """CPU and wall µs/event of ``EngineLogic.on_batch`` (a fresh step) on batches of ``size``."""
    with tempfile.TemporaryDirectory() as d:
        step = EngineLogic(RunConfig(state_dir=d, recovery=True), None)
        try:
            for s in range(0, len(warm), 1000):
                step.on_batch(_messages(warm[s : s + 1000], s))
            t, w = time.process_time(), time.perf_counter()
            for s in range(0, len(live), size):
                step.on_batch(_messages(live[s : s + size], len(warm) + s))
            cost = (time.process_time() - t, time.perf_counter() - w)
        finally:
            assert step.committer is not None
            step.committer.close()
    return cost[0] / len(live) * 1e6, cost[1] / len(live) * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="1,10,100,1000", help="batch sizes")
    ap.add_argument("--events", type=int, default=12_000, help="timed events per batch size")
    ap.add_argument("--warm", type=int, default=30_000, help="warm-up events (the catalog grows to 20k)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.batches.split(",")]
    warm = payloads(args.warm, 1, "w")
    live = payloads(args.events, 2, "p", sweep=False, after=warm[-1])
    eng = engine_part([parse_event(v) for v in warm], [parse_event(v) for v in live], sizes)
    flow = [flow_part(warm, live, size) for size in sizes]
    print(f"µs/event over {args.events} events of the paced stream after {args.warm} warm-up events")
    print(
        f"{'batch':>6} | engine CPU: {'FastCall':>8} {'dispatcher':>10} {'ratio':>5} | flow step: {'CPU':>6} {'wall':>6}"
    )
    for size, (f, d), (fc, fw) in zip(sizes, eng, flow):
        print(f"{size:>6} | {f:>20.1f} {d:>10.1f} {f / d:>5.2f} | {fc:>17.1f} {fw:>6.1f}")
    fits = (("engine", [r[0] for r in eng]), ("dispatcher", [r[1] for r in eng]), ("flow step", [r[0] for r in flow]))
    for name, us in fits:
        print(f"{name:>10}: {per_batch(sizes, us):.0f} µs CPU per batch besides its events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
