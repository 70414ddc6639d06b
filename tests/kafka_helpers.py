"""Helpers for tests against the real embedded broker and the real dataflow process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streamrec.contract.config import RunConfig
from streamrec.shell.broker import ensure_topics

REPO = Path(__file__).resolve().parents[1]


def unique_config(bootstrap: str, state_dir: Path, **overrides) -> RunConfig:
    """A run config whose topics no other test uses."""
    tag = uuid.uuid4().hex[:8]
    cfg = RunConfig(
        brokers=bootstrap,
        in_topic=f"clicks-{tag}",
        out_topic=f"recs-{tag}",
        dlq_topic=f"dlq-{tag}",
        rewards_topic=f"rewards-{tag}",
        state_dir=str(state_dir),
        snapshot_interval_s=0.5,
    )
    for k, v in overrides.items():
        setattr(cfg, k, v)
    topics = [cfg.in_topic, cfg.out_topic, cfg.dlq_topic, cfg.rewards_topic]
    if cfg.items_topic:
        topics.append(cfg.items_topic)
    ensure_topics(bootstrap, topics)
    return cfg


def produce(bootstrap: str, topic: str, payloads: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for raw in payloads:
        p.produce(topic, value=raw)
        p.poll(0)
    assert p.flush(30) == 0, "not all records delivered"


def events_payloads(events: list[dict]) -> list[bytes]:
    return [json.dumps(e).encode() for e in events]


@dataclass
class Collected:
    """Records read from a topic (raw JSON-decoded values in order)."""

    records: list[dict] = field(default_factory=list)


class TopicReader:
    """Reads a topic from the beginning, incrementally, without consumer groups."""

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"t-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        self.c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self.records: list[dict] = []

    def poll(self, seconds: float = 0.5) -> int:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            for m in self.c.consume(1000, 0.1):
                if m.error():
                    continue
                self.records.append(json.loads(m.value()))
                n += 1
        return n

    def wait_for(self, count: int, timeout: float) -> list[dict]:
        end = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < end:
            self.poll(0.3)
        self.poll(1.0)  # anything extra that would break "exactly"
        return self.records

    def close(self) -> None:
        self.c.close()


def start_flow(cfg: RunConfig, log_path: Path, via_bytewax_run: bool = False) -> subprocess.Popen:
    """Start the dataflow in its own process, as a user would."""
    env = {**os.environ, **cfg.to_env(), "PYTHONUNBUFFERED": "1"}
    if via_bytewax_run:
        from streamrec.shell.runner import prepare_recovery

        prepare_recovery(cfg)
        cmd = [
            sys.executable,
            "-m",
            "bytewax.run",
            "streamrec.flows.recommend",
            "-r",
            str(cfg.recovery_dir),
            "-s",
            str(max(1, round(cfg.snapshot_interval_s))),
            "-b",
            "0",
        ]
    else:
        cmd = run_cmd(cfg, "--policy", cfg.policy, "--reward-window", str(cfg.reward_window_s))
        if cfg.items_topic:
            cmd += ["--items", cfg.items_topic]
        if cfg.metrics_port:
            cmd += ["--metrics-port", str(cfg.metrics_port)]
        if cfg.ab_split:
            cmd += ["--ab-split", cfg.ab_split]
    log = open(log_path, "ab")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def run_cmd(cfg: RunConfig, *extra: str) -> list[str]:
    """``python -m streamrec run`` on ``cfg``'s topics and state, plus ``extra`` flags."""
    return [
        sys.executable,
        "-m",
        "streamrec",
        "run",
        "--brokers",
        cfg.brokers,
        "--in",
        cfg.in_topic,
        "--out",
        cfg.out_topic,
        "--dlq",
        cfg.dlq_topic,
        "--rewards",
        cfg.rewards_topic,
        "--state",
        cfg.state_dir,
        "--snapshot-interval",
        str(cfg.snapshot_interval_s),
        *extra,
    ]


def stop_flow(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------
# Helpers for the resilience tests (chaos recovery, broker stall, hostile input, metrics).


def wait_until(predicate, timeout: float, step: float = 0.2) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        ok = bool(predicate())
        if ok or time.monotonic() >= end:
            return ok
        time.sleep(step)


def wait_for_distinct(
    reader: TopicReader, key: str, count: int, timeout: float, proc: subprocess.Popen | None = None
) -> int:
    """Poll ``reader`` until ``count`` distinct values of ``key`` arrived (or ``proc`` exited,
    or the timeout); returns the number of distinct values seen."""
    end = time.monotonic() + timeout
    while True:
        reader.poll(0.2)
        seen = {r.get(key) for r in reader.records}
        if len(seen) >= count or time.monotonic() >= end or (proc is not None and proc.poll() is not None):
            return len(seen)


def wait_for_learned(port: int, count: int, timeout: float, proc: subprocess.Popen | None = None) -> int:
    """Poll the metrics endpoint on ``port`` until the model serving there has learned
    ``count`` events (its ``streamrec_model_info`` version ``VERSION+N``), or ``proc`` exited,
    or the timeout; returns the last N seen (-1: no answer yet)."""
    end, learned = time.monotonic() + timeout, -1
    while learned < count and time.monotonic() < end and (proc is None or proc.poll() is None):
        try:
            samples = scrape_metrics(port, timeout=1.0)
        except OSError:  # not listening yet (starting up)
            samples = {}
        versions = [dict(labels).get("version", "") for name, labels in samples if name == "streamrec_model_info"]
        learned = max([int(v.rsplit("+", 1)[1]) for v in versions if "+" in v] + [learned])
        time.sleep(0.2)
    return learned


def load_model_state(state_dir: str | Path):
    """The model state a stopped flow left in ``state_dir`` (its RocksDB store), or None."""
    from streamrec.state.store import ParamStore

    with ParamStore(state_dir, read_only=True) as store:
        return store.load()


def model_state_differences(a, b) -> list[str]:
    """Names of the arrays (bitwise: dtype, shape, bytes), vocabularies and meta keys that differ."""
    import numpy as np

    diffs = [f"array {n}: only in one" for n in sorted(set(a.arrays) ^ set(b.arrays))]
    for name in sorted(set(a.arrays) & set(b.arrays)):
        x, y = np.asarray(a.arrays[name]), np.asarray(b.arrays[name])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            diffs.append(f"array {name}")
    diffs += [f"vocab {n}" for n in sorted(set(a.vocab) | set(b.vocab)) if a.vocab.get(n) != b.vocab.get(n)]
    diffs += [f"meta {k}" for k in sorted(set(a.meta) | set(b.meta)) if a.meta.get(k) != b.meta.get(k)]
    return diffs


def scrape_metrics(port: int, timeout: float = 5.0) -> dict[tuple[str, tuple], float]:
    """Samples of ``http://127.0.0.1:PORT/metrics``: {(sample name, sorted labels): value}."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def metric_sum(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))
