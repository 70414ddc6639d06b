"""Issue 10's bench: the same backlog drained by a 1-process and a 2-process cluster, one run.

A backlog of ``--events`` generated clicks (5,000 users, every third click a never-seen
item so the catalog grows to ``--items``) is produced once, keyed by user, to a topic of
``--partitions`` partitions. Then ``streamrec run --processes P`` (recovery on, one shard
per process, deltas every ``--sync-every`` local events and every epoch) drains it, for each
P of ``--processes``, each with its own state directory and output topic. Events/s are
timed from the first recommendation to the last (start-up excluded); the peak resident
memory (VmRSS) and the CPU time of every flow process, with its epoch-commit worker process
(it owns the RocksDB database), are sampled while it drains, the
broker's CPU time is read around it. Printed: events/s per P, the ratio to P = 1, MB per
process, CPU ms per event of the flow processes, of their commit workers and of the broker,
and the cores they keep busy (on a machine with fewer free cores than flow processes +
commit workers + broker need, the CPU per event says more than the rate); then, from each
process's stage profile (``STREAMREC_PROFILE_FILE``), the share of the drain its worker
spends in timed stages, the µs per own event of the engine step, the shard deltas, the
epoch commits and Kafka, and when each process began serving; last, the ratio each size
could reach on this machine if sharding cost no CPU (cores / the reference's busy cores).

    python bench/scale_out.py                        # 60k events, 4 partitions, P = 1, 2
    python bench/scale_out.py --events 6000 --items 2000     # smoke
    python bench/scale_out.py --events 150000 --items 100000 --processes 2   # memory at 100k items
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import flow_throughput as ft
import orjson
from confluent_kafka import Producer
from proc_stats import children, cmdline, cpu_s, descendants_cpu, rss_mb, subtree

from streamrec.shell.broker import EmbeddedBroker, ensure_topics

REPO = Path(__file__).resolve().parents[1]


def produce_keyed(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Each payload keyed by its user (the default partitioner spreads users over partitions)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 5000})
    for v in values:
        p.produce(topic, key=orjson.loads(v)["user"].encode(), value=v)
        p.poll(0)
    assert p.flush(60) == 0


def flow_pids(launcher: subprocess.Popen, n_proc: int) -> list[int]:
    """The flow processes: the launcher itself for one process, else its children that are
    cluster members (not its short-lived compile-ahead helper)."""
    if n_proc == 1:
        return [launcher.pid]
    return [p for p in children(launcher.pid) if "--process-id" in cmdline(p)]


class PeakRss(threading.Thread):
    """Samples every 0.5 s each flow process together with its descendants (the RocksDB
    epoch-commit worker): ``peak[pid]`` resident MB of the whole subtree, ``cpu[pid]`` CPU s."""

    def __init__(self, launcher: subprocess.Popen, n_proc: int) -> None:
        super().__init__(daemon=True)
        self.launcher, self.n_proc, self.peak, self.cpu, self.own = launcher, n_proc, {}, {}, {}
        self.seen: dict[int, float] = {}  # CPU s of every process of a subtree, by pid
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for pid in flow_pids(self.launcher, self.n_proc):
                tree = subtree(pid)
                for p in tree:
                    self.seen[p] = max(self.seen.get(p, 0.0), cpu_s(p))
                self.peak[pid] = max(self.peak.get(pid, 0.0), sum(rss_mb(p) for p in tree))
                self.cpu[pid] = sum(self.seen[p] for p in tree)
                self.own[pid] = self.seen[pid]


def start(
    bootstrap: str, src: str, out: str, state: Path, n_proc: int, args, log: Path, profile: str
) -> subprocess.Popen:
    cmd = [
        *("streamrec", "run", "--brokers", bootstrap, "--in", src, "--out", out),
        *("--dlq", f"dlq-{out}", "--rewards", f"rewards-{out}", "--state", str(state)),
        *("--snapshot-interval", str(args.snapshot_interval), "--batch-size", str(args.batch_size)),
        *("--processes", str(n_proc), "--deltas", f"deltas-{out}", "--sync-every", str(args.sync_every)),
        *("--progress-interval", "0"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "STREAMREC_PROFILE_FILE": profile}
    return subprocess.Popen(
        [sys.executable, "-m", *cmd], cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT
    )


def drain_with(bootstrap: str, src: str, n_proc: int, args, tmp: Path, broker_pid: int) -> dict:
    """Events/s, peak MB per flow process, CPU ms per event of the flow processes (from their
    first recommendation on) and of the broker, for a ``n_proc``-process cluster on the backlog."""
    out, log = f"recs-p{n_proc}-{int(time.time())}", tmp / f"flow-p{n_proc}.log"
    ensure_topics(bootstrap, [out])
    broker0 = cpu_s(broker_pid)
    profile = str(tmp / f"profile-p{n_proc}-{{pid}}.txt")  # one stage profile per process
    proc = start(bootstrap, src, out, tmp / f"state-p{n_proc}", n_proc, args, log, profile)
    mem = PeakRss(proc, n_proc)
    mem.start()
    at_first: dict[int, tuple[float, float]] = {}  # pid -> CPU s (subtree, process) at the first record

    def first_record(_msg) -> None:  # CPU so far = start-up, left out of the per-event figure
        if not at_first:
            at_first.update({p: (cpu_s(p) + descendants_cpu(p), cpu_s(p)) for p in flow_pids(proc, n_proc)})

    try:
        rate, got, _, _ = ft.drain(proc, bootstrap, out, args.events, log, on_record=first_record, timeout=args.timeout)
        broker = cpu_s(broker_pid) - broker0
        time.sleep(1.0)  # one more sample of every process
    finally:
        mem.stop.set()
        ft.stop_flow(proc, timeout=60)
    if got < args.events:
        raise SystemExit(f"{n_proc} processes: only {got} of {args.events} recommendations; see {log}")
    members = sorted(mem.peak)
    flow_ms = 1000.0 * sum(mem.cpu[p] - at_first.get(p, (0.0, 0.0))[0] for p in members) / args.events
    own_ms = 1000.0 * sum(mem.own[p] - at_first.get(p, (0.0, 0.0))[1] for p in members) / args.events
    return {
        "rate": rate,
        "mem": [mem.peak[p] for p in members],
        "flow_ms": flow_ms,
        "commit_ms": flow_ms - own_ms,
        "broker_ms": 1000 * broker / args.events,
        "workers": worker_profiles(tmp, n_proc),
    }


def worker_profiles(tmp: Path, n_proc: int) -> list[dict]:
    """Per flow process, from its stage profile (``flows.profile``): events, and seconds in
    each timed stage (engine batch stages, Kafka in/out, shard deltas, epoch commits), after
    its first batch; and that batch's start."""
    out = []
    for path in sorted(tmp.glob(f"profile-p{n_proc}-*.txt")):
        rows = [line.split() for line in path.read_text().splitlines()]
        counts = [int(r[0]) for r in rows]
        lines = [dict(kv.split("=", 1) for kv in r[3:]) for r in rows]
        stages: dict[str, float] = {}
        for kv in lines[1:]:  # the first batch's Kafka wait holds the start-up: only its start counts
            for k, v in kv.items():
                if k != "t0":
                    stages[k] = stages.get(k, 0.0) + float(v)
        if sum(counts[1:]):
            out.append({"events": sum(counts[1:]), "stages": stages, "first_batch": float(lines[0]["t0"])})
    return out


def stage_line(ws: list[dict], drain_s: float) -> str:
    """Per process: share of the drain in timed stages, µs per own event of the engine step,
    the shard deltas, the epoch commits and Kafka, and when its first batch began."""

    def us(w: dict, keys: tuple[str, ...]) -> str:
        return f"{1e6 * sum(w['stages'].get(k, 0.0) for k in keys) / w['events']:.0f}"

    timed = ", ".join(f"{sum(w['stages'].values()) / drain_s:.0%}" for w in ws)
    deltas = ("delta_emit", "delta_merge")
    commit = ("commit", "precopy")
    engine = tuple(k for k in ws[0]["stages"] if k not in (*deltas, *commit, "kafka_in", "kafka_out"))
    parts = {
        "engine step": engine,
        "shard deltas (emit + merge)": deltas,
        "epoch commit": commit,
        "Kafka in + out": ("kafka_in", "kafka_out"),
    }
    per = "; ".join(f"{name} {', '.join(us(w, keys) for w in ws)}" for name, keys in parts.items())
    t0 = min(w["first_batch"] for w in ws)
    starts = ", ".join(f"+{w['first_batch'] - t0:.2f}" for w in ws)
    return (
        f"    in timed stages: {timed} of the {drain_s:.1f} s drain; µs per event of the process: {per};"
        f" first batch at {starts} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--items", type=int, default=20_000, help="catalog size the backlog grows to")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--processes", default="1,2", help="cluster sizes to compare, the first is the reference")
    ap.add_argument("--sync-every", type=int, default=1000)
    ap.add_argument("--snapshot-interval", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per drain")
    ap.add_argument("--workdir", help="keep state directories and flow logs here (default: a temporary one)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.processes.split(",")]
    ft.N_ITEMS = args.items
    values = ft.payloads(args.events, seed=7, prefix="")
    with tempfile.TemporaryDirectory(prefix="scale-out-") as d, EmbeddedBroker() as broker:
        tmp, b = Path(args.workdir or d), broker.bootstrap
        tmp.mkdir(parents=True, exist_ok=True)
        src = "clicks-backlog"
        ensure_topics(b, [src], partitions=args.partitions)
        produce_keyed(b, src, values)
        print(
            f"== scale-out: {args.events:,} clicks keyed by user over {args.partitions} partitions, catalog up "
            f"to {args.items:,} items, deltas every {args.sync_every} local events and every "
            f"{args.snapshot_interval:g} s epoch; {os.cpu_count()} cores shared with the broker",
            flush=True,
        )
        results = {}
        for n in sizes:
            r = results[n] = drain_with(b, src, n, args, tmp, broker.pid)
            ratio = r["rate"] / results[sizes[0]]["rate"]
            mem_s = ", ".join(f"{m:,.0f}" for m in r["mem"])
            print(
                f"{n} process{'es' if n > 1 else '  '}: {r['rate']:10,.0f} events/s   x{ratio:4.2f} of {sizes[0]}   "
                f"peak RSS per process with its commit worker (MB): {mem_s}",
                flush=True,
            )
            busy = (r["flow_ms"] + r["broker_ms"]) * r["rate"] / 1000.0
            print(
                f"    CPU ms/event (from the first recommendation): flow processes {r['flow_ms'] - r['commit_ms']:.2f},"
                f" their epoch-commit workers {r['commit_ms']:.2f}, broker {r['broker_ms']:.2f};"
                f" cores busy {busy:.2f} of {os.cpu_count()}",
                flush=True,
            )
            r["busy"] = busy
            if r["workers"]:
                print(stage_line(r["workers"], args.events / r["rate"]), flush=True)
        print(ceiling_line(results, sizes[0], os.cpu_count() or 1), flush=True)


def ceiling_line(results: dict, ref: int, cores: int) -> str:
    """What each cluster size could reach on this machine if sharding cost no CPU at all:
    ``min(P / ref, cores / cores busy at ref)`` (the reference's CPU per event, all cores)."""
    busy = results[ref]["busy"]
    if busy > cores * 1.05:  # more than the machine has: CPU samples (every 0.5 s) outran the drain
        return "ceiling here: not measurable (the drain is too short for the CPU samples; use more --events)"
    parts = [f"{n} processes x{min(n / ref, cores / busy):.2f}" for n in results if n != ref]
    return (
        f"ceiling here if sharding cost no CPU ({ref} process{'es' * (ref > 1)} keeps {busy:.2f} of "
        f"{cores} cores busy): " + ", ".join(parts)
    )


if __name__ == "__main__":
    main()
