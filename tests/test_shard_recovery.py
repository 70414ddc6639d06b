"""Recovery per shard: SIGKILL either process of a 2-process cluster at seeded random points.

The cluster (``streamrec run --processes 2``, recovery on, 0.5 s epochs) reads clicks keyed
by user over 2 partitions; users of shard 0 click only items ``a*``, of shard 1 only ``b*``
(as in ``test_shard_flow``). Three times, after a seeded random amount of further progress
and a committed epoch, at a random moment, one process chosen at random is killed with SIGKILL; the launcher then stops the other and
the test restarts the cluster on the same state; the last start runs to the end. Proved:
* every valid event has exactly one distinct rec_id (re-sends after a resume carry it);
* every restart resumed both shards from a committed epoch, and they ended with every item's count equal to its clicks over
  all shards: the deltas of the resumed epoch, in flight at the kill, were merged, those of
  the killed start after it were not, none twice;
* the online hit rate of the served slates (each click against the slate last served to its
  user; a re-sent recommendation replaces the first) lies within the 95% interval of an
  uninterrupted run of the same cluster on the same events.
"""

from __future__ import annotations

import math
import random
import subprocess
import time
from pathlib import Path

import pytest
from kafka_helpers import REPO, TopicReader, run_cmd, stop_flow, unique_config, wait_for_distinct, wait_until
from test_shard_flow import _events, _produce_keyed, check_shards

from streamrec.contract.messages import rec_id_for
from streamrec.shell.broker import ensure_topics
from streamrec.state.epochs import list_epochs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

N_EVENTS = 8000
SNAPSHOT_S = 0.5
SEED = 20_261_130


def _members(launcher: subprocess.Popen) -> list[int]:
    path = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _epochs(state_dir: str) -> list[int]:
    """The newest epoch checkpoint of each shard (-1 if none)."""
    return [max(list_epochs(Path(state_dir) / f"shard-{s}"), default=-1) for s in (0, 1)]


def served_hit_rate(events: list[dict], records: list[dict]) -> tuple[float, int]:
    """(hits / clicks, clicks): each click of a user served before, against the slate of
    the recommendation answering that user's previous event (the last one sent for it)."""
    slate = {r["event_id"]: {i["item"] for i in r["items"]} for r in records}
    last: dict[str, str] = {}
    hits = n = 0
    for e in events:
        prev = last.get(e["user"])
        if prev is not None:
            n += 1
            hits += e["item"] in slate[prev]
        last[e["user"]] = e["event_id"]
    return hits / n, n


def _cluster(broker, state_dir: Path, events: list[dict]):
    """Config, command and recommendations reader of a 2-process cluster over ``events``."""
    cfg = unique_config(broker.bootstrap, state_dir, snapshot_interval_s=SNAPSHOT_S)
    cfg.in_topic += "-p2"
    cfg.deltas_topic = f"deltas-{cfg.out_topic}"
    ensure_topics(broker.bootstrap, [cfg.in_topic], partitions=2)
    _produce_keyed(broker.bootstrap, cfg.in_topic, events, [])
    cmd = run_cmd(cfg, "--processes", "2", "--deltas", cfg.deltas_topic, "--sync-every", "150")
    return cfg, cmd, TopicReader(broker.bootstrap, cfg.out_topic)


def _uninterrupted_hit_rate(broker, tmp_path: Path, events: list[dict]) -> tuple[float, int]:
    _, cmd, recs = _cluster(broker, tmp_path / "clean-state", events)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=open(tmp_path / "clean.log", "ab"), stderr=subprocess.STDOUT)
    try:
        assert wait_for_distinct(recs, "rec_id", N_EVENTS, timeout=300, proc=proc) == N_EVENTS
    finally:
        stop_flow(proc, timeout=30)
        recs.close()
    return served_hit_rate(events, recs.records)


def test_sigkill_either_process_resumes_both_shards_without_double_merges(broker, tmp_path):
    rng = random.Random(SEED)
    events = _events(N_EVENTS, n_users=120, n_items=150)
    cfg, cmd, recs = _cluster(broker, tmp_path / "state", events)
    log = open(tmp_path / "flow.log", "ab")
    kills = []
    try:
        for _ in range(3):
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            target = len({r["rec_id"] for r in recs.records}) + rng.randrange(300, 1500)
            before = _epochs(cfg.state_dir)
            seen = wait_for_distinct(recs, "rec_id", min(target, N_EVENTS - 500), timeout=300, proc=proc)
            # a kill after a committed epoch: the next start resumes from it (not from scratch);
            # a fresh start's epoch 1 is its start-up checkpoint, not a committed epoch
            assert wait_until(lambda b=before: all(x > max(y, 1) for x, y in zip(_epochs(cfg.state_dir), b)), 60)
            time.sleep(rng.uniform(0.0, 2 * SNAPSHOT_S))
            members = _members(proc)
            assert len(members) == 2 and proc.poll() is None, (tmp_path / "flow.log").read_text()[-3000:]
            victim = rng.randrange(2)
            subprocess.run(["kill", "-9", str(members[victim])], check=True)
            kills.append((seen, victim))
            assert proc.wait(60) != 0  # the launcher stops the survivor and reports the failure
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        n = wait_for_distinct(recs, "rec_id", N_EVENTS, timeout=300, proc=proc)
        time.sleep(10 * SNAPSHOT_S)  # the last epoch's deltas go out and are merged
    finally:
        stop_flow(proc, timeout=30)
        recs.close()
    assert n == N_EVENTS, (tmp_path / "flow.log").read_text()[-3000:]
    by_event: dict[str, set[str]] = {}
    for r in recs.records:
        by_event.setdefault(r["event_id"], set()).add(r["rec_id"])
    assert by_event == {e["event_id"]: {rec_id_for(e["event_id"])} for e in events}
    assert len(recs.records) >= N_EVENTS and len(kills) == 3
    rolled_back = (tmp_path / "flow.log").read_text().count("restarted before the first committed epoch")
    assert rolled_back == 0  # every restart resumed both shards from a committed epoch
    check_shards(cfg.state_dir, events)
    hr, n_clicks = served_hit_rate(events, recs.records)
    clean, _ = _uninterrupted_hit_rate(broker, tmp_path, events)
    half_width = 1.96 * math.sqrt(clean * (1.0 - clean) / n_clicks)
    assert 0.0 < clean < 1.0 and abs(hr - clean) <= half_width, (hr, clean, half_width)
