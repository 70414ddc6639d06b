"""``streamrec demo``: embedded broker + generated traffic + the dataflow + a live view.

The traffic closes the loop: some clicks answer the user's latest recommendation
(carrying its ``rec_id``), so rewards are joined and logged as in production.
The demo ends by itself once every valid event has its recommendation (or on
Ctrl-C). The broker keeps topics in memory only, so each demo starts from fresh
topics; the model in ``--state`` persists, and a second demo continues from it
(watch ``model_version`` and the ``known items/users`` line).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streamrec.shell.broker import EmbeddedBroker, ensure_topics
from streamrec.shell.preflight import client_config
from streamrec.shell.subscribe import format_recommendation
from streamrec.shell.traffic import ClickGenerator, invalid_payloads

TOPICS = ("clicks", "recommendations", "clicks-dead-letter", "rewards")


class _Traffic(threading.Thread):
    """Produce ``n`` events at ``rate``/s; ~30% answer the user's last recommendation."""

    def __init__(self, bootstrap: str, n: int, rate: float, last_rec: dict, lock: threading.Lock):
        super().__init__(daemon=True)
        self.producer = Producer(client_config(bootstrap, {"linger.ms": 5}))
        self.gen = ClickGenerator(n_users=300, n_items=800, seed=int(time.time()), prefix=f"demo{int(time.time())}-")
        self.n, self.rate, self.last_rec, self.lock = n, rate, last_rec, lock
        self.rng = random.Random(7)
        self.valid = self.invalid = self.answers = 0
        self.stop = threading.Event()

    def run(self) -> None:
        bad = invalid_payloads()
        t0 = time.monotonic()
        for k in range(self.n):
            if self.stop.is_set():
                break
            if k % 100 == 50:
                self.producer.produce("clicks", value=bad[(k // 100) % len(bad)])
                self.invalid += 1
            user = self.rng.randrange(self.gen.n_users)
            with self.lock:
                rec = self.last_rec.pop(f"u{user}", None)
            if rec and rec["items"] and self.rng.random() < 0.3:
                pick = rec["items"][min(int(self.rng.expovariate(0.7)), len(rec["items"]) - 1)]
                ev = self.gen.next_event(user=user, item=int(pick["item"][1:]), rec_id=rec["rec_id"])
                self.answers += 1
            else:
                ev = self.gen.next_event(user=user)
            self.producer.produce("clicks", key=ev["user"].encode(), value=json.dumps(ev).encode())
            self.producer.poll(0)
            self.valid += 1
            delay = t0 + (k + 1) / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.producer.flush()


def _consumer(bootstrap: str, topics: tuple[str, ...]) -> Consumer:
    c = Consumer(
        {**client_config(bootstrap), "group.id": "streamrec-demo", "enable.auto.commit": False, "fetch.wait.max.ms": 10}
    )
    c.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in topics])
    return c


def _wait_until_serving(
    traffic: _Traffic,
    consumer: Consumer,
    flow: subprocess.Popen,
    counts: dict,
    last_rec: dict,
    lock: threading.Lock,
    stop: threading.Event,
    timeout_s: float = 180.0,
) -> bool:
    """Send one event and wait for its recommendation (the first start compiles the kernels)."""
    ev = traffic.gen.next_event()
    traffic.producer.produce("clicks", key=ev["user"].encode(), value=json.dumps(ev).encode())
    traffic.producer.flush()
    traffic.valid += 1
    t0 = time.monotonic()
    end, told = t0 + timeout_s, t0
    while time.monotonic() < end and flow.poll() is None and not stop.is_set():
        if time.monotonic() - told >= 10.0:
            told = time.monotonic()
            print(
                f"  still starting ({told - t0:.0f} s): the first run compiles the engine's kernels "
                "(half a minute on two cores, once; later runs load them from the cache)",
                flush=True,
            )
        for m in consumer.consume(10, 0.5):
            value = m.value()
            if not m.error() and m.topic() == "recommendations" and value is not None:
                counts["recommendations"] += 1
                msg = json.loads(value)
                with lock:
                    last_rec[msg["user"]] = msg
                return True
    return False


def run_demo(
    events: int = 3000,
    state_dir: str = "demo-state",
    rate: float = 500.0,
    quiet: bool = False,
    timeout_s: float = 300.0,
) -> int:
    """Run the whole loop; returns 0 when every valid event got its recommendation."""
    state = Path(state_dir)
    stop = threading.Event()  # Ctrl-C / SIGTERM: stop the traffic and the flow, then summarise
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    shutil.rmtree(state / "recovery", ignore_errors=True)  # offsets belong to the old broker
    state.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(log_path=str(state / "broker.log")) as broker:
        ensure_topics(broker.bootstrap, TOPICS)
        print(f"broker {broker.bootstrap}; starting the dataflow (state in {state}/) ...", flush=True)
        flow_log = open(state / "flow.log", "ab")
        flow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamrec",
                "run",
                "--brokers",
                broker.bootstrap,
                "--state",
                str(state),
                "--snapshot-interval",
                "1",
                "--reward-window",
                "30",
            ],
            stdout=flow_log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lock = threading.Lock()
        last_rec: dict[str, dict] = {}
        traffic = _Traffic(broker.bootstrap, events, rate, last_rec, lock)
        consumer = _consumer(broker.bootstrap, TOPICS[1:])
        counts = {t: 0 for t in TOPICS[1:]}
        latencies: list[float] = []
        rewards = clicks_on_recs = 0
        versions: set[str] = set()
        if not _wait_until_serving(traffic, consumer, flow, counts, last_rec, lock, stop) and not stop.is_set():
            print(f"the dataflow did not answer within 180 s; see {state}/flow.log")
            flow.kill()
            return 1
        if not stop.is_set():
            print("dataflow is serving; sending traffic", flush=True)
            traffic.start()
        started = time.monotonic()
        last_print = 0.0
        try:
            while time.monotonic() - started < timeout_s and not stop.is_set():
                if flow.poll() is not None:
                    print(f"dataflow exited with {flow.returncode}; see {state}/flow.log")
                    return 1
                for m in consumer.consume(500, 0.2):
                    value, topic = m.value(), m.topic()
                    if m.error() or value is None or topic is None:
                        continue
                    counts[topic] += 1
                    msg = json.loads(value)
                    if m.topic() == "recommendations":
                        latencies.append(msg["latency_ms"])
                        versions.add(msg["model_version"].split("+")[0])
                        with lock:
                            last_rec[msg["user"]] = msg
                        if not quiet and counts["recommendations"] % 250 == 1:
                            print("  " + format_recommendation(msg), flush=True)
                    elif m.topic() == "rewards":
                        rewards += 1
                        clicks_on_recs += 1 if msg.get("reward") else 0
                now = time.monotonic()
                if now - last_print > 2.0:
                    last_print = now
                    print(
                        f"[{now - started:5.1f}s] produced {traffic.valid} valid + {traffic.invalid} "
                        f"invalid | recommendations {counts['recommendations']} | dead letters "
                        f"{counts['clicks-dead-letter']} | rewards {rewards} (clicked {clicks_on_recs})",
                        flush=True,
                    )
                if not traffic.is_alive() and counts["recommendations"] >= traffic.valid:
                    break
        finally:
            if stop.is_set():
                print("interrupted: stopping the traffic and the dataflow", flush=True)
            traffic.stop.set()
            flow.send_signal(signal.SIGINT)
            try:
                flow.wait(20)
            except subprocess.TimeoutExpired:
                flow.kill()
            consumer.close()
            flow_log.close()
    lat = sorted(latencies) or [0.0]
    ok = counts["recommendations"] >= traffic.valid and counts["clicks-dead-letter"] >= traffic.invalid
    print(
        f"\nsummary: {traffic.valid} valid events -> {counts['recommendations']} recommendations; "
        f"{traffic.invalid} invalid -> {counts['clicks-dead-letter']} dead letters; "
        f"{rewards} reward records ({clicks_on_recs} clicks on recommended items, "
        f"{traffic.answers} answers sent)"
    )
    print(
        f"latency broker->recommendation: p50 {lat[len(lat) // 2]:.1f} ms, "
        f"p95 {lat[int(len(lat) * 0.95)]:.1f} ms; model versions seen {sorted(versions)}"
    )
    print(f"model state kept in {state}/; run the demo again to continue from it")
    return 0 if ok or stop.is_set() else 1
