"""Issue 9's bench: the live dataflow against Bytewax and plain Kafka, on one embedded broker.

Throughput phase: a backlog of ``--events`` generated clicks (5,000 users, catalog
growing to 20,000 items) is drained, one after the other, by

  (a) a plain confluent-kafka loop: consume -> orjson.loads -> produce a message of the
      size of a recommendation;
  (b) a Bytewax passthrough flow doing the same (KafkaSource -> map -> KafkaSink, 1 worker);
  (c) ``streamrec run``: parse + validate, learning, two-stage retrieval, ranking, epsilon-greedy
      with propensities, the reward join, Bytewax recovery on (snapshot every 2 s).

Each is timed from its first output record to its last; the ratios are printed, in wall time
and in CPU time (events per CPU-second of the process doing the work, from ``/proc``: on a
shared machine the wall-clock ratios move with the other jobs' load, the CPU ones far less).
From (c)'s
stage clock (``STREAMREC_PROFILE_FILE``, one line per batch) come the per-stage
us/event, the batch-time distribution, index refreshes and epoch commits. The engine alone
is then timed in this process on the same events (learn only vs learn + retrieve + rank), and on
20,000 clicks like the paced phase's from the state the backlog left (the whole catalog,
users with histories: the engine's steady cost, higher than the backlog's average).

Paced phase: a fresh flow first learns a warm-up backlog (the catalog), then events arrive
at ``--rate`` events/s for ``--duration`` s; latency = broker timestamp of the
recommendation record minus that of its event (both CreateTime stamped at produce). It
prints the CPU of the flow, its commit worker, the broker and this bench's own producer and
latency consumer while paced: on a small machine they share the same cores. Then the
passthrough (b) gets the same paced events, with the same producer and latency consumer
(``--no-paced-reference`` skips it): the latency that the broker, the Kafka clients and
Bytewax alone give on this machine, the floor under the flow's.

    python bench/flow_throughput.py                      # 60k backlog, 5,000 ev/s for 60 s
    python bench/flow_throughput.py --events 5000 --rate 500 --duration 5 --warmup 2000   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from flow_report import (
    engine_split,
    joiner_snapshot_cost,
    print_batches,
    print_stages,
    quantiles,
)
from proc_stats import cpu_s, descendants_cpu

from streamrec.contract.messages import dumps, rec_id_for, recommendation_record
from streamrec.shell.broker import EmbeddedBroker, ensure_topics
from streamrec.shell.traffic import ClickGenerator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from kafka_helpers import stop_flow  # noqa: E402 -- tests/ is put on sys.path just above

N_USERS, N_ITEMS = 5000, 20000
_SLATE = [f"i{10000 + j}" for j in range(10)]


def echo(raw: bytes) -> tuple[bytes, bytes]:
    """What the references do per event: parse the JSON, build a recommendation-sized message."""
    ev = orjson.loads(raw)
    msg = recommendation_record(
        rec_id_for(ev["event_id"]),
        ev["event_id"],
        ev["user"],
        ev["ts"],
        _SLATE,
        [1.234567] * 10,
        [0.91] * 10,
        "egreedy:0.1",
        "v0000+12345",
        1.234,
    )
    return ev["user"].encode(), dumps(msg)


def payloads(n: int, seed: int, prefix: str, sweep: bool = True, after: bytes | None = None) -> list[bytes]:
    """Generated clicks; with ``sweep`` every third one clicks the next never-seen item, so
    the catalog grows steadily to ``N_ITEMS`` over the first ``3 * N_ITEMS`` events. Their
    event time starts where the event ``after`` (a payload) left it, if given."""
    start = orjson.loads(after)["ts"] if after is not None else 1_700_000_000.0
    gen = ClickGenerator(n_users=N_USERS, n_items=N_ITEMS, seed=seed, prefix=prefix, start_ts=start)
    out = []
    for k in range(n):
        new = k // 3 if sweep and k % 3 == 0 and k // 3 < N_ITEMS else None
        out.append(json.dumps(gen.next_event(item=new)).encode())
    return out


def produce_all(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 5000})
    for v in values:
        p.produce(topic, value=v)
        p.poll(0)
    assert p.flush(60) == 0


def consumer(bootstrap: str, topic: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    return c


# -- (a) plain loop and (b) Bytewax passthrough ----------------------------------------------
def plain_loop(bootstrap: str, src: str, dst: str, n: int) -> tuple[float, float]:
    """(events/s, events per CPU-second of this process) of the plain loop."""
    c, p = consumer(bootstrap, src), Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    done, t0, c0 = 0, None, 0.0
    while done < n:
        for m in c.consume(1000, 0.5):
            if m.error():
                continue
            if t0 is None:
                t0, c0 = time.perf_counter(), cpu_s(os.getpid())
            key, value = echo(m.value())
            p.produce(dst, key=key, value=value)
            done += 1
        p.poll(0)
    p.flush()
    c.close()
    return n / (time.perf_counter() - t0), n / max(cpu_s(os.getpid()) - c0, 1e-9)


def passthrough_flow(bootstrap: str, src: str, dst: str, batch_size: int):
    """The Bytewax reference flow (run in its own process by ``--passthrough-worker``)."""
    import bytewax.operators as op
    from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
    from bytewax.dataflow import Dataflow

    flow = Dataflow("passthrough")
    raw = op.input(
        "in",
        flow,
        KafkaSource(
            [bootstrap],
            [src],
            tail=True,
            starting_offset=OFFSET_BEGINNING,
            add_config={"fetch.wait.max.ms": "10"},
            batch_size=batch_size,
        ),
    )

    def to_msg(m):
        key, value = echo(m.value)
        return KafkaSinkMessage(key=key, value=value)

    op.output("out", op.map("echo", raw, to_msg), KafkaSink([bootstrap], topic=dst))
    return flow


def drain(
    proc: subprocess.Popen, bootstrap: str, topic: str, n: int, log: Path, on_record=None, timeout: float = 1e9
) -> tuple[float, int, float, float]:
    """Read ``n`` records of ``topic`` while ``proc`` runs: (events/s first->last, records
    read, events per CPU-second of ``proc`` first->last, CPU µs per event of its child
    processes meanwhile)."""
    c = consumer(bootstrap, topic)
    got, first, last, cpu, kids = 0, None, None, [0.0, 0.0], [0.0, 0.0]
    end = time.monotonic() + timeout
    try:
        while got < n and time.monotonic() < end:
            for m in c.consume(1000, 0.2):
                if m.error():
                    continue
                last = time.perf_counter()
                if first is None:
                    first, cpu[0], kids[0] = last, cpu_s(proc.pid), descendants_cpu(proc.pid)
                got += 1
                if on_record is not None:
                    on_record(m)
            if proc.poll() is not None:
                raise SystemExit(f"flow died; see {log}")
            if first is not None:
                cpu[1], kids[1] = cpu_s(proc.pid), descendants_cpu(proc.pid)
    finally:
        c.close()
    if got < 2:
        return 0.0, got, 0.0, 0.0
    rate, per_cpu = (got - 1) / max(last - first, 1e-9), (got - 1) / max(cpu[1] - cpu[0], 1e-9)
    return rate, got, per_cpu, 1e6 * (kids[1] - kids[0]) / (got - 1)


def start_streamrec(bootstrap: str, src: str, out: str, state: Path, args, profile: Path, log: Path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "STREAMREC_PROFILE_FILE": str(profile)}
    cmd = [
        sys.executable,
        "-m",
        "streamrec",
        "run",
        "--brokers",
        bootstrap,
        "--in",
        src,
        "--out",
        out,
        "--dlq",
        "dlq",
        "--rewards",
        "rewards",
        "--state",
        str(state),
        "--policy",
        args.policy,
        "--snapshot-interval",
        str(args.snapshot_interval),
        "--batch-size",
        str(args.batch_size),
    ]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def start_passthrough(bootstrap: str, src: str, dst: str, batch_size: int, log: Path):
    cmd = [sys.executable, __file__, "--passthrough-worker", bootstrap, src, dst, str(batch_size)]
    return subprocess.Popen(cmd, cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def throughput(b: str, args, tmp: Path) -> None:
    ensure_topics(b, ["in", "pt-plain", "pt-bytewax", "recs", "dlq", "rewards"])
    backlog = payloads(args.events, 1, "e")
    produce_all(b, "in", backlog)
    plain, plain_cpu = plain_loop(b, "in", "pt-plain", args.events)
    proc = start_passthrough(b, "in", "pt-bytewax", args.batch_size, tmp / "passthrough.log")
    try:
        bw, _, bw_cpu, _ = drain(proc, b, "pt-bytewax", args.events, tmp / "passthrough.log")
    finally:
        stop_flow(proc)
    profile = tmp / "profile-throughput.txt"
    proc = start_streamrec(b, "in", "recs", tmp / "state", args, profile, tmp / "flow.log")
    try:
        sr, _, sr_cpu, sr_worker = drain(proc, b, "recs", args.events, tmp / "flow.log")
        time.sleep(0.5)
    finally:
        stop_flow(proc)
    print(
        f"== throughput: backlog of {args.events} click events, {N_USERS} users, catalog up to {N_ITEMS} "
        f"items, 1 worker, KafkaSource batch_size {args.batch_size}, policy {args.policy}, recovery on "
        f"(snapshot every {args.snapshot_interval:g} s)"
    )
    print(f"(a) plain confluent-kafka loop : {plain:9.0f} events/s")
    print(f"(b) Bytewax passthrough flow   : {bw:9.0f} events/s   (b)/(a) {bw / plain:.2f}")
    print(f"(c) streamrec flow             : {sr:9.0f} events/s   (c)/(b) {sr / bw:.2f}   (c)/(a) {sr / plain:.2f}")
    print(
        f"per CPU-second of each process: (a) {plain_cpu:.0f}  (b) {bw_cpu:.0f}  (c) {sr_cpu:.0f} events"
        f"   (c)/(b) {sr_cpu / bw_cpu:.3f}   (c): {1e6 / sr_cpu:.0f} us CPU/event, its commit worker "
        f"{sr_worker:.0f} more"
    )
    print_stages(profile, sr)
    print_batches(profile)
    if not args.no_engine_split:
        engine_split(backlog, args.batch_size, payloads(20_000, 2, "p", sweep=False, after=backlog[-1]))
        joiner_snapshot_cost()


def pace_into(bootstrap: str, topic: str, values: list[bytes], rate: float, sent_ms: dict[str, int]) -> None:
    """Produce ``values`` to ``topic`` at ``rate`` per second, each stamped (CreateTime) with
    the ms it was handed to the producer, also kept in ``sent_ms`` by event id (``p<k>``).
    Linger 5 ms: fed 1 ms produce batches at thousands per second, the embedded broker stops
    serving a tail consumer after ~50k records (a plain confluent-kafka consumer stalls the
    same way); 5 and 20 ms batches are served in full."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    t0, k, n = time.monotonic(), 0, len(values)
    while k < n:
        due = min(n, int((time.monotonic() - t0) * rate) + 1)
        while k < due:
            ts = int(time.time() * 1000)
            sent_ms[f"p{k + 1}"] = ts
            p.produce(topic, value=values[k], timestamp=ts)
            k += 1
        p.poll(0)
        time.sleep(0.001)
    p.flush()


def latency_recorder(sent_ms: dict[str, int], lat: list[float]) -> Callable[[Any], None]:
    """``on_record`` for :func:`drain`: the ms from a paced event's stamp to its answer's."""

    def on_record(m) -> None:
        if m.value()[:200].find(b'"event_id":"p') >= 0:
            ev_ts = sent_ms.get(orjson.loads(m.value())["event_id"])
            if ev_ts is not None:
                lat.append(m.timestamp()[1] - ev_ts)

    return on_record


def paced_run(
    b: str, proc: subprocess.Popen, src: str, dst: str, n_before: int, live: list[bytes], args, log: Path, snap
) -> tuple[list[float], tuple, tuple, float]:
    """Pace ``live`` into ``src`` at ``args.rate`` and read ``dst`` (``n_before`` earlier
    records first) until every answer is in or the time is up: (latencies in ms, ``snap()``
    before and after, wall seconds)."""
    lat: list[float] = []
    sent_ms: dict[str, int] = {}
    t = threading.Thread(target=pace_into, args=(b, src, live, args.rate, sent_ms), daemon=True)
    before, t0 = snap(), time.monotonic()
    t.start()
    on_record = latency_recorder(sent_ms, lat)
    drain(proc, b, dst, n_before + len(live), log, on_record, timeout=args.duration + args.drain)
    return lat, before, snap(), time.monotonic() - t0


def print_latency(what: str, lat: list[float], n: int) -> None:
    """Percentiles of ``lat`` (ms), with the ``n - len(lat)`` unanswered events as +inf and without."""
    names = ("p50", "p95", "p99", "p999", "max")
    for label, x in (("all events (missing = +inf)", lat + [np.inf] * (n - len(lat))), ("received only", lat)):
        q = quantiles(np.array(x), (0.5, 0.95, 0.99, 0.999, 1.0))
        print(f"latency {what}, ms, {label}: " + "  ".join(f"{k} {v:.1f}" for k, v in zip(names, q)))


def paced(b: str, args, tmp: Path, broker_pid: int) -> None:
    ensure_topics(b, ["paced-in", "paced-recs", "dlq", "rewards"])
    n = int(args.rate * args.duration)
    warm = payloads(args.warmup, 1, "w")
    live = payloads(n, 2, "p", sweep=False, after=warm[-1])  # event time goes on (the reward window)
    profile = tmp / "profile-paced.txt"
    produce_all(b, "paced-in", warm)
    proc = start_streamrec(b, "paced-in", "paced-recs", tmp / "state2", args, profile, tmp / "flow2.log")
    try:
        drain(proc, b, "paced-recs", len(warm), tmp / "flow2.log")  # catalog learned, kernels warm
        open(profile, "w").close()  # batch figures of the paced part only
        # a new consumer reads the warm-up's recommendations again before the paced ones
        lat, cpu0, cpu1, wall = paced_run(
            b,
            proc,
            "paced-in",
            "paced-recs",
            len(warm),
            live,
            args,
            tmp / "flow2.log",
            lambda: (cpu_s(proc.pid), descendants_cpu(proc.pid), cpu_s(broker_pid), time.process_time()),
        )
    finally:
        stop_flow(proc)
    print(
        f"== paced: {args.rate:.0f} events/s for {args.duration:g} s ({n} events) after a warm-up of "
        f"{args.warmup} events; recovery on, snapshot every {args.snapshot_interval:g} s"
    )
    print(f"recommendations received within {args.drain:g} s after the last event: {len(lat)} of {n}")
    print_latency("broker -> recommendation produced", lat, n)
    flow_cpu, worker_cpu, broker_cpu, own_cpu = (y - x for x, y in zip(cpu0, cpu1))
    print(
        f"CPU while paced ({wall:.0f} s): flow process {1e6 * flow_cpu / n:.0f} us/event ({flow_cpu / wall:.2f} "
        f"cores), its commit worker {1e6 * worker_cpu / n:.0f} us/event ({worker_cpu / wall:.2f} cores)"
    )
    print(
        f"  and on the same machine: the broker {broker_cpu / wall:.2f} cores, this bench (producer + "
        f"latency consumer) {own_cpu / wall:.2f}; all four {(flow_cpu + worker_cpu + broker_cpu + own_cpu) / wall:.2f} "
        f"of {os.cpu_count()} cores"
    )
    print_batches(profile)
    if not args.no_paced_reference:
        paced_reference(b, args, tmp, live, broker_pid)


def paced_reference(b: str, args, tmp: Path, live: list[bytes], broker_pid: int) -> None:
    """The same paced events through the Bytewax passthrough (b), with the same producer and
    latency consumer: the latency that the broker, the Kafka clients and Bytewax alone give
    on this machine, the floor under the flow's."""
    ensure_topics(b, ["ref-in", "ref-out"])
    log, warm = tmp / "passthrough-paced.log", payloads(2000, 3, "r")
    produce_all(b, "ref-in", warm)
    proc = start_passthrough(b, "ref-in", "ref-out", args.batch_size, log)
    try:
        drain(proc, b, "ref-out", len(warm), log)  # the flow is up
        lat, cpu0, cpu1, wall = paced_run(
            b, proc, "ref-in", "ref-out", len(warm), live, args, log, lambda: (cpu_s(proc.pid), cpu_s(broker_pid))
        )
    finally:
        stop_flow(proc)
    print(f"reference: the Bytewax passthrough paced the same way, {len(lat)} of {len(live)} answered")
    print_latency("broker -> passthrough message produced", lat, len(live))
    print(
        f"  CPU while paced: the passthrough {1e6 * (cpu1[0] - cpu0[0]) / len(live):.0f} us/event, "
        f"the broker {(cpu1[1] - cpu0[1]) / wall:.2f} cores"
    )


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--passthrough-worker":
        from bytewax.run import cli_main

        cli_main(passthrough_flow(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=60000, help="backlog size (throughput phase)")
    ap.add_argument("--policy", default="egreedy:0.1")
    ap.add_argument("--batch-size", type=int, default=1000, help="KafkaSource batch_size (all flows)")
    ap.add_argument("--snapshot-interval", type=float, default=2.0, help="seconds per epoch")
    ap.add_argument("--rate", type=float, default=5000.0, help="paced events/s")
    ap.add_argument("--duration", type=float, default=60.0, help="paced seconds")
    ap.add_argument("--warmup", type=int, default=60000, help="events learned before pacing starts")
    ap.add_argument("--drain", type=float, default=60.0, help="seconds to wait for late recommendations")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-paced", action="store_true")
    ap.add_argument("--no-engine-split", action="store_true", help="skip timing the engine in-process")
    ap.add_argument(
        "--no-paced-reference", action="store_true", help="skip pacing the Bytewax passthrough the same way"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    print(f"(logs and profiles in {tmp}; figures are noisy on a shared machine)")
    with EmbeddedBroker(log_path=str(tmp / "broker.log")) as broker:
        if not args.skip_throughput:
            throughput(broker.bootstrap, args, tmp)
        if not args.skip_paced:
            paced(broker.bootstrap, args, tmp, broker.pid)


if __name__ == "__main__":
    main()
