"""End-to-end throughput and latency of the dataflow on the embedded broker.

1. Throughput: N generated click events are produced to a fresh topic first; then
   ``streamrec run`` drains it, timed from its first recommendation to its last.
   The reference in the same run is a plain confluent-kafka loop (consume, parse
   JSON, produce JSON) over the same input: the ratio is what learning, ranking,
   exploring and state cost on top of moving the bytes.
2. Latency under load: events produced at a fixed ``--rate`` while the flow runs;
   ``latency_ms`` of each recommendation (broker timestamp of the event to the
   recommendation being produced) gives p50/p95/p99.

    python bench/flow_throughput.py --events 30000 --rate 2000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streamrec.shell.broker import EmbeddedBroker, ensure_topics
from streamrec.contract.config import RunConfig
from streamrec.shell.traffic import ClickGenerator


def _produce(bootstrap: str, topic: str, n: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 5000})
    for ev in ClickGenerator(n_users=5000, n_items=20000, seed=1).events(n):
        p.produce(topic, value=json.dumps(ev).encode())
        p.poll(0)
    p.flush()


def _consumer(bootstrap: str, topic: str) -> Consumer:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    return c


def passthrough(bootstrap: str, src: str, dst: str, n: int) -> float:
    """Plain confluent-kafka consume -> json -> produce loop; returns events/s."""
    c, p = _consumer(bootstrap, src), Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    done, t0 = 0, time.perf_counter()
    while done < n:
        for m in c.consume(1000, 0.5):
            if m.error():
                continue
            ev = json.loads(m.value())
            p.produce(dst, key=ev["user"].encode(), value=json.dumps({"event_id": ev["event_id"]}).encode())
            done += 1
        p.poll(0)
    p.flush()
    c.close()
    return n / (time.perf_counter() - t0)


def _paced(bootstrap: str, topic: str, n: int, rate: float) -> threading.Thread:
    def run() -> None:
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
        t0 = time.monotonic()
        for k, ev in enumerate(ClickGenerator(n_users=5000, n_items=20000, seed=2, prefix="p").events(n)):
            p.produce(topic, value=json.dumps(ev).encode())
            p.poll(0)
            delay = t0 + (k + 1) / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        p.flush()

    t = threading.Thread(target=run, daemon=True)
    return t


def engine_run(bootstrap: str, cfg: RunConfig, n: int, log: Path,
               producer: threading.Thread | None = None) -> tuple[float, list[float]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from kafka_helpers import start_flow, stop_flow

    c = _consumer(bootstrap, cfg.out_topic)
    proc = start_flow(cfg, log)
    if producer is not None:  # wait until the flow serves (kernels loaded) before pacing
        warm = Producer({"bootstrap.servers": bootstrap})
        warm.produce(cfg.in_topic, value=json.dumps(ClickGenerator(seed=9, prefix="warm").next_event()).encode())
        warm.flush()
        while not [m for m in c.consume(10, 0.5) if not m.error()]:
            if proc.poll() is not None:
                raise SystemExit(f"flow died; see {log}")
        producer.start()
    lat: list[float] = []
    first = None
    try:
        while len(lat) < n:
            for m in c.consume(1000, 0.5):
                if m.error():
                    continue
                first = first or time.perf_counter()
                lat.append(json.loads(m.value())["latency_ms"])
            if proc.poll() is not None:
                raise SystemExit(f"flow died; see {log}")
        elapsed = time.perf_counter() - first
    finally:
        stop_flow(proc)
        c.close()
    return n / elapsed, lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=30000)
    ap.add_argument("--policy", default="egreedy:0.1")
    ap.add_argument("--rate", type=float, default=2000.0, help="paced events/s for the latency phase")
    ap.add_argument("--paced-events", type=int, default=20000)
    ap.add_argument("--snapshot-interval", type=float, default=2.0, help="seconds per epoch")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    with EmbeddedBroker(log_path=str(tmp / "broker.log")) as broker:
        b = broker.bootstrap
        ensure_topics(b, ["in", "passthrough-out", "recs", "dlq", "rewards"])
        _produce(b, "in", args.events)
        ref = passthrough(b, "in", "passthrough-out", args.events)
        cfg = RunConfig(brokers=b, in_topic="in", out_topic="recs", dlq_topic="dlq", rewards_topic="rewards",
                        state_dir=str(tmp / "state"), policy=args.policy, snapshot_interval_s=args.snapshot_interval)
        eps, _ = engine_run(b, cfg, args.events, tmp / "flow.log")
        ensure_topics(b, ["paced-in", "paced-recs"])
        cfg2 = RunConfig(brokers=b, in_topic="paced-in", out_topic="paced-recs", dlq_topic="dlq",
                         rewards_topic="rewards", state_dir=str(tmp / "state2"), policy=args.policy,
                         snapshot_interval_s=args.snapshot_interval)
        _, lat = engine_run(b, cfg2, args.paced_events, tmp / "flow2.log",
                            producer=_paced(b, "paced-in", args.paced_events, args.rate))
    lat = sorted(lat)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
    print(f"events: {args.events}, catalog up to 20000 items, 5000 users, policy {args.policy}, 1 worker")
    print(f"plain confluent-kafka passthrough: {ref:10.0f} events/s")
    print(f"streamrec flow (learn+rank+explore+state): {eps:8.0f} events/s   ratio {eps / ref:.2f}")
    print(f"latency broker->recommendation at {args.rate:.0f} events/s ({len(lat)} events): "
          f"p50 {q(0.5):.1f} ms, p95 {q(0.95):.1f} ms, p99 {q(0.99):.1f} ms")


if __name__ == "__main__":
    main()
