"""Reports of ``bench/flow_throughput.py``: stage profile, batch times, the engine alone.

The profile file has one line per engine batch (see :mod:`streamrec.flows.profile`)::

    <events> <batch seconds> <index refreshed 0/1> <stage>=<seconds> ...
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from streamrec.flows.profile import STAGES

_LABELS = {
    "kafka_in": "Kafka in (source poll)",
    "parse": "parse + validate (orjson)",
    "reward_join": "reward join",
    "learn_retrieve_rank": "learn + retrieve + rank (engine)",
    "exploration": "exploration (batched slates)",
    "encode": "message encoding",
    "kafka_out": "Kafka out (produce; flush per epoch)",
    "commit": "commit (epoch checkpoints)",
    "precopy": "pre-copy start (late in an epoch)",
    "metrics": "metrics (once per batch)",
}


def quantiles(x: np.ndarray, qs) -> list[float]:
    """Order-statistic quantiles (``q = 1`` is the max); +inf entries stay +inf."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    if x.size == 0:
        return [float("nan")] * len(qs)
    return [float(x[min(x.size - 1, int(np.ceil(q * x.size)) - 1 if q > 0 else 0)]) for q in qs]


def read_profile(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(events per batch, seconds per batch, refreshed flags, per-stage seconds per batch)."""
    n, sec, ref, stages = [], [], [], {s: [] for s in STAGES}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        n.append(int(parts[0]))
        sec.append(float(parts[1]))
        ref.append(parts[2] == "1")
        kv = dict(p.split("=", 1) for p in parts[3:])
        for s in STAGES:
            stages[s].append(float(kv.get(s, 0.0)))
    return np.array(n), np.array(sec), np.array(ref, bool), {s: np.array(v) for s, v in stages.items()}


def print_stages(path: Path, events_per_s: float) -> None:
    """us/event per stage over the run, and what the stages do not cover (Bytewax itself)."""
    n, _, _, stages = read_profile(path)
    total_ev = max(int(n.sum()), 1)
    print(f"per-stage profile of (c), us/event over {total_ev} events:")
    covered = 0.0
    for s in STAGES:
        us = stages[s].sum() / total_ev * 1e6
        covered += us
        print(f"  {_LABELS[s]:<36s} {us:8.1f}")
    wall = 1e6 / events_per_s if events_per_s else float("nan")
    print(f"  {'sum of stages':<36s} {covered:8.1f}")
    print(f"  {'wall time per event (1 / events/s)':<36s} {wall:8.1f}")
    print(f"  {'rest: Bytewax operators + recovery':<36s} {wall - covered:8.1f}")


def print_batches(path: Path) -> None:
    """Batch-time distribution, index refreshes and epoch commits from the profile."""
    n, sec, ref, stages = read_profile(path)
    if n.size == 0:
        print("no batches recorded")
        return
    ms = sec * 1000.0
    p50, p99, mx = quantiles(ms, (0.5, 0.99, 1.0))
    print(
        f"batches: {n.size}, mean {n.mean():.0f} events (max {n.max()}); batch time ms: p50 {p50:.1f}  "
        f"p99 {p99:.1f}  max {mx:.1f}"
    )
    if ref.any():
        r = ms[ref]
        print(
            f"index refreshes: {int(ref.sum())} (batches that rebuilt it took mean {r.mean():.1f} ms, "
            f"max {r.max():.1f} ms; other batches p50 {np.median(ms[~ref]) if (~ref).any() else 0:.1f} ms)"
        )
    else:
        print("index refreshes: 0")
    for stage, what in (("commit", "epoch commits"), ("precopy", "pre-copy rounds started")):
        on_path = stages[stage][stages[stage] > 0] * 1000.0
        if on_path.size:
            print(
                f"{what}: {on_path.size}, ms each on the event path: mean {on_path.mean():.1f}"
                f"  p99 {quantiles(on_path, (0.99,))[0]:.1f}  max {on_path.max():.1f}"
            )


ENGINE_MODES = (("learn only", 0), ("learn + retrieve + rank top-50", 50))  # (label, n_candidates)


def engine_split(backlog: list[bytes], batch: int, more: list[bytes]) -> None:
    """The engine alone on the same events: learn only vs learn + retrieve + rank top-50;
    then both on ``more`` clicks (like the paced phase's) from the state the backlog left, two
    copies of it interleaved batch by batch: a grown catalog and users with histories cost
    the engine more than the backlog's average."""
    from streamrec.online.recommender import Recommender, RecommenderConfig

    events = [json.loads(v) for v in backlog]
    out = {}
    for label, n_cand in ENGINE_MODES:
        model = Recommender(RecommenderConfig())
        model.process_batch(events[:1], n_candidates=n_cand)  # compile / load kernels
        times = []
        for i in range(1, len(events), batch):
            t = time.perf_counter()
            model.process_batch(events[i : i + batch], n_candidates=n_cand)
            times.append(time.perf_counter() - t)
        out[label] = (sum(times) / (len(events) - 1) * 1e6, max(times) * 1e3)
    print(
        f"engine alone in this process ({len(events)} events, batches of {batch}, catalog up to "
        f"{model.stats()['n_items']} items):"
    )
    _print_split(out)
    later = [json.loads(v) for v in more]
    spent = {label: 0.0 for label in out}
    twins = {label: Recommender.from_state(model.export_state(), model.config) for label in out}
    for i in range(0, len(later), batch):
        for label, n_cand in ENGINE_MODES:
            t = time.perf_counter()
            twins[label].process_batch(later[i : i + batch], n_candidates=n_cand)
            spent[label] += time.perf_counter() - t
    print(
        f"the engine on {len(later)} more clicks like the paced phase's, from the state the backlog left "
        f"({model.stats()['n_items']} items, {model.stats()['n_users']} users with histories):"
    )
    _print_split({label: (s / len(later) * 1e6, None) for label, s in spent.items()})


def _print_split(out: dict[str, tuple[float, float | None]]) -> None:
    for label, (us, worst) in out.items():
        tail = f"   (slowest batch {worst:.0f} ms)" if worst is not None else ""
        print(f"  {label:<32s} {us:8.1f} us/event{tail}")
    learn, both = out["learn only"][0], out["learn + retrieve + rank top-50"][0]
    print(f"  {'=> retrieve + rank':<32s} {both - learn:8.1f} us/event")


def joiner_snapshot_cost(n_pending: int = 100_000, per_epoch: int = 10_000, k: int = 10) -> None:
    """The reward join's share of an epoch commit once it holds ``n_pending`` decisions:
    the incremental ops of ``per_epoch`` new decisions (what the flow writes) against
    pickling the whole state (what a Bytewax snapshot of it would cost)."""
    import pickle

    from streamrec.flows.join_store import JoinStore
    from streamrec.flows.reward_join import RewardJoiner

    j, js = RewardJoiner(), JoinStore()
    items, props = [f"i{10000 + s}" for s in range(k)], [0.123456] * k

    def decide(lo: int, hi: int) -> None:
        for n in range(lo, hi):
            j.record_decision(
                f"r-{n:024x}",
                f"u{n % 5000}",
                1.7e9 + n,
                items,
                props,
                "egreedy:0.1",
                f"v0000+{n}",
                "a",
                {"segment": "student"},
                scores=props,
            )
            j.on_event(None, f"u{n % 5000}", "not-shown", 1.7e9 + n, f"e{n}")

    decide(0, n_pending)
    from streamrec.flows.engine_step import quiet_gc

    quiet_gc()  # as in the flow process
    js.ops(j)
    decide(n_pending, n_pending + per_epoch)
    t = time.perf_counter()
    puts, _ = js.ops(j)
    dt_ops = time.perf_counter() - t
    t = time.perf_counter()
    raw = pickle.dumps(j.to_dict())
    dt_pickle = time.perf_counter() - t
    print(
        f"reward join at {n_pending} pending decisions, {per_epoch} new in an epoch: epoch ops "
        f"{sum(len(v) for _, v in puts) / 1e6:.1f} MB in {dt_ops * 1e3:.0f} ms (part of the commit stage); "
        f"the whole state pickled (into every Bytewax snapshot before) {len(raw) / 1e6:.1f} MB in "
        f"{dt_pickle * 1e3:.0f} ms"
    )
