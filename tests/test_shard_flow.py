"""The sharded flow on a real cluster: ``streamrec run --processes 2`` against the embedded broker.

Traffic is keyed by user over a 2-partition clicks topic (user u on partition
``shard_of(u, 2)``, so the process reading partition p serves u on its shard p). The users of shard 0 click only
items ``a*``, those of shard 1 only items ``b*``, so a shard can know the other's items only
through the deltas topic. Proved here:
* every valid event gets exactly one distinct rec_id (the one derived from its event id),
  every invalid payload one dead letter, although two processes serve;
* each shard has its own model (``STATE/shard-<s>``) that learned only the events of its
  process's partition,
  and whose catalog holds every item of the other shard; its cumulative count of every item
  equals the item's clicks over all shards (every delta merged exactly once);
* a layout that cannot be spread evenly fails fast with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer
from kafka_helpers import REPO, TopicReader, load_model_state, run_cmd, stop_flow, unique_config, wait_for_distinct

from streamrec.contract.messages import rec_id_for
from streamrec.online.shard_sync import shard_of
from streamrec.shell.broker import ensure_topics
from streamrec.shell.runner import free_ports
from streamrec.shell.traffic import invalid_payloads

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

N_EVENTS = 3000
SNAPSHOT_S = 0.5


def _events(n: int, n_users: int = 80, n_items: int = 60) -> list[dict]:
    """Users of shard 0 click items ``a<j>``, users of shard 1 items ``b<j>``."""
    out = []
    for t in range(n):
        user = f"u{(t * 7) % n_users}"
        prefix = "ab"[shard_of(user, 2)]
        item = f"{prefix}{(t * 13 + t // n_users) % n_items}"
        out.append({"event_id": f"e{t}", "ts": 1.7e9 + t, "user": user, "item": item})
    return out


def _produce_keyed(bootstrap: str, topic: str, events: list[dict], extra: list[bytes]) -> None:
    """Keyed by user, each user's events on partition ``shard_of(user, 2)``: Bytewax gives
    partition p to worker p, whose process serves it on shard p (``flows.shard_routing``)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, ev in enumerate(events):
        p.produce(topic, key=ev["user"].encode(), value=json.dumps(ev).encode(), partition=shard_of(ev["user"], 2))
        if i % 500 == 0 and extra:
            p.produce(topic, key=b"bad", value=extra.pop())
        p.poll(0)
    for raw in extra:
        p.produce(topic, value=raw)
    assert p.flush(30) == 0


def shard_item_counts(state_dir: str | Path, shard: int) -> dict[str, float]:
    """Cumulative click count of every item in the stored model of ``shard``."""
    state = load_model_state(Path(state_dir) / f"shard-{shard}")
    assert state is not None
    items = state.vocab["items"]
    return dict(zip(items, state.arrays["item_pop"][: len(items)].tolist()))


def check_shards(state_dir: str | Path, events: list[dict]) -> None:
    """Own users only; every item of the other shard known; counts exact (see module doc)."""
    clicks = {item: float(n) for item, n in Counter(e["item"] for e in events).items()}
    for s, own in ((0, "a"), (1, "b")):
        state = load_model_state(Path(state_dir) / f"shard-{s}")
        users = set(state.vocab["users"])
        assert users and all(shard_of(u, 2) == s for u in users)
        counts = shard_item_counts(state_dir, s)
        assert set(counts) == set(clicks) and any(i.startswith(own) for i in counts)
        wrong = {i: (counts[i], n) for i, n in clicks.items() if counts[i] != n}
        assert not wrong, f"shard {s}: item counts (stored, true) differ: {list(wrong.items())[:5]}"


@pytest.mark.parametrize("recovery", [True, False], ids=["recovery", "no-recovery"])
def test_two_processes_serve_every_event_once_and_share_items(broker, tmp_path, recovery):
    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=SNAPSHOT_S)
    cfg.in_topic += "-p2"
    cfg.deltas_topic = f"deltas-{cfg.out_topic}"
    ensure_topics(broker.bootstrap, [cfg.in_topic], partitions=2)
    events, bad = _events(N_EVENTS), invalid_payloads()
    _produce_keyed(broker.bootstrap, cfg.in_topic, events, list(bad))

    recs, dlq = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.dlq_topic)
    log = open(tmp_path / "flow.log", "ab")
    cmd = run_cmd(cfg, "--processes", "2", "--deltas", cfg.deltas_topic, "--sync-every", "200")
    cmd += [] if recovery else ["--no-recovery"]  # then deltas go out by timer, rows saved every batch
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        n = wait_for_distinct(recs, "rec_id", N_EVENTS, timeout=300, proc=proc)
        dead = dlq.wait_for(len(bad), timeout=10)
        time.sleep(8 * SNAPSHOT_S)  # the last epoch's deltas go out and are merged
    finally:
        stop_flow(proc, timeout=30)
        recs.close()
        dlq.close()
    assert n == N_EVENTS, (tmp_path / "flow.log").read_text()[-3000:]
    assert "messages cross processes" not in (tmp_path / "flow.log").read_text()  # each writes its own output
    assert {r["rec_id"] for r in recs.records} == {rec_id_for(e["event_id"]) for e in events}
    assert len(dead) == len(bad)
    check_shards(cfg.state_dir, events)


def test_an_uneven_layout_fails_fast_with_one_line(broker, tmp_path):
    cfg = unique_config(broker.bootstrap, tmp_path / "state")
    out = subprocess.run(
        [*run_cmd(cfg, "--processes", "2", "--shards", "3")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "3 shards cannot be spread evenly over 2 workers" in lines[0]


def test_a_cluster_on_fewer_partitions_than_processes_fails_fast_with_one_line(broker, tmp_path):
    cfg = unique_config(broker.bootstrap, tmp_path / "state")
    ensure_topics(broker.bootstrap, [cfg.in_topic], partitions=1)
    out = subprocess.run([*run_cmd(cfg, "--processes", "2")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--in {cfg.in_topic} has 1 partition for 2 processes" in lines[0], out.stderr


def test_the_readme_cluster_of_two_bytewax_run_processes_serves_every_event_once(broker, tmp_path):
    """The "Running on several machines" path: ``python -m bytewax.run ... -i N -a ...`` per
    process, configured by ``STREAMREC_*`` variables, one recovery store of 2 partitions."""
    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=1.0)
    cfg.in_topic += "-p2"
    cfg.deltas_topic = f"deltas-{cfg.out_topic}"
    ensure_topics(broker.bootstrap, [cfg.in_topic], partitions=2)
    ensure_topics(broker.bootstrap, [cfg.deltas_topic])
    events = _events(1500)
    _produce_keyed(broker.bootstrap, cfg.in_topic, events, [])
    recovery = Path(cfg.state_dir) / "recovery"
    recovery.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "2"], check=True)
    env = {**os.environ, **cfg.to_env(), "STREAMREC_RUN_ID": "readme-2", "STREAMREC_SHARDS": "2"}
    env.update(STREAMREC_METRICS_PORT="0", STREAMREC_SYNC_EVERY="200", PYTHONUNBUFFERED="1")
    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(2))
    recs = TopicReader(broker.bootstrap, cfg.out_topic)
    procs = []
    try:
        for i in range(2):
            cmd = [sys.executable, "-m", "bytewax.run", "streamrec.flows.recommend", "-r", str(recovery)]
            cmd += ["-s", "1", "-b", "0", "-i", str(i), "-a", addresses]
            log = open(tmp_path / f"p{i}.log", "ab")
            procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
        n = wait_for_distinct(recs, "rec_id", len(events), timeout=300, proc=procs[0])
        time.sleep(5)  # the last epoch's deltas go out and are merged
    finally:
        for p in procs:
            stop_flow(p, timeout=30)
        recs.close()
    logs = "\n".join((tmp_path / f"p{i}.log").read_text()[-1500:] for i in range(2))
    assert n == len(events), logs
    assert "messages cross processes" not in logs
    assert {r["rec_id"] for r in recs.records} == {rec_id_for(e["event_id"]) for e in events}
    check_shards(cfg.state_dir, events)
