"""``streamrec model snapshot|list|rollback|info`` on a sharded state, and the ``shard`` metric label.

The sharded state is made by the flow's own shard engines (``flows.shard_engine.ShardLogic``,
recovery off, no Kafka): click events routed by ``flows.shard_routing.Router`` to the two
shards, each engine learning and saving its users' events in ``STATE/shard-<s>``; the run
topology is recorded as ``streamrec run`` records it. "Bitwise" compares every key and value
of a shard's live RocksDB (``content_hash``) and the loaded arrays' bytes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from bytewax.connectors.kafka import KafkaSourceMessage
from prometheus_client import REGISTRY
from test_state_versions import run_cli

from streamrec.contract.config import RunConfig
from streamrec.flows.shard_engine import ShardLogic
from streamrec.flows.shard_routing import Router, shard_keys
from streamrec.flows.status_history import read_registry
from streamrec.online.shard_sync import shard_of
from streamrec.state.disk import live_db_path
from streamrec.state.run_topology import check_and_record
from streamrec.state.shard_versions import list_sets, shard_count
from streamrec.state.store import ParamStore
from streamrec.state.versions import content_hash, list_versions

S = 2


def _events(start: int, n: int, n_users: int = 40, n_items: int = 30) -> list[dict]:
    return [
        {"event_id": f"e{t}", "ts": 1.7e9 + t, "user": f"u{(t * 7) % n_users}", "item": f"i{(t * 13) % n_items}"}
        for t in range(start, start + n)
    ]


def learn(state: Path, events: list[dict]) -> Counter[int]:
    """Route ``events`` to the shards and let each shard engine learn them (then close its DB);
    returns the events per shard."""
    cfg = RunConfig(state_dir=str(state), shards=S, recovery=False, sync_every=10**9, in_topic="clicks")
    route = Router(shard_keys(S, 1))
    now_ms = int(time.time() * 1000)
    batches: dict[int, list] = {}
    for off, ev in enumerate(events):
        msg = KafkaSourceMessage(
            None, json.dumps(ev).encode(), topic="clicks", partition=0, offset=off, timestamp=(1, now_ms)
        )
        for _, (s, m) in route(msg):
            batches.setdefault(s, []).append((s, m))
    for _, values in sorted(batches.items()):
        logic = ShardLogic(cfg, "test-run", None)
        logic.on_batch(values)
        logic.engine.store.close()
    return Counter({s: len(v) for s, v in batches.items()})


def live_hashes(state: Path) -> list[str]:
    return [content_hash(live_db_path(state / f"shard-{s}")) for s in range(S)]


def arrays_bytes(state: Path, s: int) -> dict[str, bytes]:
    with ParamStore(state / f"shard-{s}") as store:
        loaded = store.load()
    assert loaded is not None
    return {name: a.tobytes() for name, a in loaded.arrays.items()}


@pytest.fixture()
def sharded(tmp_path) -> tuple[Path, Counter[int]]:
    state = tmp_path / "state"
    check_and_record(state, {"clicks": 2, "model-deltas": 2}, workers=S, resuming=False, shards=S)
    return state, learn(state, _events(0, 300))


def test_snapshot_modify_rollback_restores_every_shard_bitwise(sharded, capsys):
    state, _ = sharded
    assert shard_count(state) == S
    before_hashes = live_hashes(state)
    before_arrays = [arrays_bytes(state, s) for s in range(S)]
    assert run_cli(["model", "snapshot", "--state", str(state), "--label", "pre"]) == 0
    taken = json.loads(capsys.readouterr().out)
    vid = taken["version"]
    assert sorted(taken["shards"]) == ["0", "1"]
    for s in range(S):  # every shard holds its member, as a version of its own
        assert [v["id"] for v in list_versions(state / f"shard-{s}")] == [taken["shards"][str(s)]]

    learn(state, _events(300, 200))  # modify every shard
    assert all(a != b for a, b in zip(live_hashes(state), before_hashes, strict=True))
    assert run_cli(["model", "snapshot", "--state", str(state)]) == 0
    second = json.loads(capsys.readouterr().out)["version"]
    assert run_cli(["model", "list", "--state", str(state)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["label"], r["current"]) for r in rows] == [(vid, "pre", False), (second, None, True)]

    recovery = state / "recovery"  # the cluster's Bytewax store and each shard's baseline
    (recovery / "shard-1" / "streamrec-baseline").mkdir(parents=True)
    (recovery / "part-0.sqlite3").write_bytes(b"x")
    assert run_cli(["model", "rollback", vid, "--state", str(state)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rolled_back_to"] == vid and out["shards"] == taken["shards"]
    assert live_hashes(state) == before_hashes
    assert [arrays_bytes(state, s) for s in range(S)] == before_arrays
    assert not recovery.exists()
    assert [s["current"] for s in map(json.loads, _list(state, capsys))] == [True, False]


def _list(state: Path, capsys) -> list[str]:
    assert run_cli(["model", "list", "--state", str(state)]) == 0
    return capsys.readouterr().out.splitlines()


def test_info_lists_every_shard_with_its_version_and_events(sharded, capsys):
    state, per_shard = sharded
    assert run_cli(["model", "info", "--state", str(state), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["shard"] for s in info["shards"]] == [0, 1]
    assert [s["events"] for s in info["shards"]] == [per_shard[0], per_shard[1]]
    assert info["total_events"] == 300 and info["current_version"] is None
    assert [s["model_version"] for s in info["shards"]] == [f"v0000+{per_shard[s]}" for s in range(S)]
    assert run_cli(["model", "snapshot", "--state", str(state)]) == 0
    members = json.loads(capsys.readouterr().out)["shards"]
    assert run_cli(["model", "info", "--state", str(state)]) == 0
    text = capsys.readouterr().out
    for s in range(S):
        line = next(x for x in text.splitlines() if x.startswith(f"shard {s} "))
        assert f"{members[str(s)]}+{per_shard[s]}" in line and f"{per_shard[s]:,} events" in line
    assert any(x.startswith("total") and "300 events" in x for x in text.splitlines())


def test_a_shard_without_its_live_db_is_refused_and_nothing_is_taken(sharded, capsys):
    state, _ = sharded
    db = live_db_path(state / "shard-1")
    db.rename(db.with_name("moved-away"))
    assert run_cli(["model", "snapshot", "--state", str(state)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 of 2 shards have no live model" in err and "shard-1" in err
    assert list_sets(state) == [] and list_versions(state / "shard-0") == []
    assert run_cli(["model", "info", "--state", str(state), "--json"]) == 0
    shards = json.loads(capsys.readouterr().out)["shards"]
    assert [s.get("missing", False) for s in shards] == [False, True]


def test_rollback_checks_every_shard_before_touching_any(sharded, capsys):
    state, _ = sharded
    assert run_cli(["model", "snapshot", "--state", str(state)]) == 0
    vid = json.loads(capsys.readouterr().out)["version"]
    learn(state, _events(300, 100))
    after = live_hashes(state)
    with ParamStore(state / "shard-1"):  # a running process holds shard 1
        assert run_cli(["model", "rollback", vid, "--state", str(state)]) == 1
    assert "open by a running process" in capsys.readouterr().err
    assert live_hashes(state) == after  # shard 0 was not rolled back either
    assert run_cli(["model", "rollback", "v0009-00000000", "--state", str(state)]) == 1
    assert "unknown version set" in capsys.readouterr().err


def test_engine_metrics_carry_the_shard_label(tmp_path):
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    state = tmp_path / "state"
    clicks = [sample("streamrec_events_total", kind="click", shard=str(s)) for s in range(S)]
    lat = [sample("streamrec_event_latency_seconds_count", shard=str(s)) for s in range(S)]
    total_before = read_registry(REGISTRY)
    per_shard = learn(state, _events(0, 120))
    assert set(per_shard) == {shard_of(f"u{(t * 7) % 40}", S) for t in range(120)} == {0, 1}
    for s in range(S):
        assert sample("streamrec_events_total", kind="click", shard=str(s)) - clicks[s] == per_shard[s]
        assert sample("streamrec_event_latency_seconds_count", shard=str(s)) - lat[s] == per_shard[s]
        assert sample("streamrec_state_size_bytes", shard=str(s)) >= 0.0
        assert 0.0 <= sample("streamrec_online_hit_rate", shard=str(s)) <= 1.0
    # one figure for the process: summed over the shards (the status page and progress lines)
    total = read_registry(REGISTRY)
    assert total["events"] - total_before["events"] == 120
    assert total["buckets"][-1][1] - dict(total_before["buckets"]).get(float("inf"), 0.0) == 120
    rates = [s.value for fam in REGISTRY.collect() for s in fam.samples if s.name == "streamrec_online_hit_rate"]
    assert len(rates) >= S and total["hit_rate"] == pytest.approx(sum(rates) / len(rates))
