"""Routing and delta bookkeeping of the sharded flow, without Kafka: which shard gets a
message, which shards get a delta, and which deltas a shard merges across restarts."""

from __future__ import annotations

import types

import pytest

from streamrec.contract.config import RunConfig
from streamrec.flows.delta_inbox import DeltaInbox
from streamrec.flows.recommend import bytewax_cluster, cluster_run_id
from streamrec.flows.shard_keys import bytewax_worker
from streamrec.flows.shard_routing import Router, ShardLayoutError, check_layout, fan_out, local_shards
from streamrec.online.shard_sync import shard_of


def _msg(value: bytes, topic: str = "clicks", key: bytes | None = None):
    return types.SimpleNamespace(topic=topic, value=value, key=key)


def test_events_go_to_their_users_shard_items_to_all_bad_input_to_shard_0():
    keys = check_layout(4, 2)
    route = Router(keys)
    for user in ("u1", "u2", "alice", "42"):
        ((key, (s, _)),) = route(_msg(f'{{"user": "{user}", "item": "i"}}'.encode()))
        assert s == shard_of(user, 4) and key == keys[s]
    to_all = fan_out(keys, skip_origin=False)  # an item keyed "1" still reaches shard 1
    assert [s for _, (s, _) in to_all(_msg(b'{"item": "i"}', topic="items", key=b"1"))] == [0, 1, 2, 3]
    for bad in (b"not json", b"[1, 2]", b'{"item": "i"}', None):
        assert [s for _, (s, _) in route(_msg(bad))] == [0]


def test_a_process_routes_events_only_to_its_own_shards_by_user():
    keys = check_layout(6, 3)  # shard s on worker s mod 3 = process s mod 3
    assert [local_shards(6, 3, 1, p) for p in range(3)] == [[0, 3], [1, 4], [2, 5]]
    assert [local_shards(8, 2, 2, p) for p in range(2)] == [[0, 1, 4, 5], [2, 3, 6, 7]]
    route = Router(keys, local=[1, 4])
    users = [f"u{i}" for i in range(40)]
    got = {u: [s for _, (s, _) in route(_msg(f'{{"user": "{u}"}}'.encode()))] for u in users}
    assert got == {u: [[1, 4][shard_of(u, 2)]] for u in users}
    assert {s for (s,) in got.values()} == {1, 4}
    assert [s for _, (s, _) in route(_msg(b"not json"))] == [1]
    only = Router(keys, local=[2])  # one shard per process: nothing to parse
    assert [s for _, (s, _) in only(_msg(b"not json")) + only(_msg(b'{"user": "u1"}'))] == [2, 2]
    with pytest.raises(ValueError, match="without shards"):
        Router(keys, local=[])


def test_layout_gives_every_worker_the_same_number_of_shards_or_fails_in_one_line():
    keys = check_layout(6, 3)
    assert sorted(bytewax_worker(k, 3) for k in keys) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ShardLayoutError, match="4 shards cannot be spread evenly over 3 workers"):
        check_layout(4, 3)
    with pytest.raises(ShardLayoutError):
        check_layout(2, 2, workers_per_process=2)


def test_a_delta_goes_to_every_shard_but_its_origin():
    keys = check_layout(3, 1)
    fan = fan_out(keys)
    assert [s for _, (s, _) in fan(_msg(b"x", key=b"1"))] == [0, 2]
    assert [s for _, (s, _) in fan(_msg(b"x", key=None))] == [0, 1, 2]  # unknown origin: all (merge skips own)


def test_cluster_size_and_run_id_from_bytewax_runner_arguments():
    argv = ["streamrec.flows.recommend", "-i", "1", "-a", "h1:1;h2:1;h3:1", "-w", "2"]
    assert bytewax_cluster(argv, {}) == (3, 2, 1)
    assert bytewax_cluster([], {"BYTEWAX_ADDRESSES": "a:1;b:1", "BYTEWAX_PROCESS_ID": "1"}) == (2, 1, 1)
    assert bytewax_cluster([], {}) == (1, 1, 0)
    assert cluster_run_id(RunConfig(run_id="r7"), 3) == "r7"
    assert cluster_run_id(RunConfig(), 1) != cluster_run_id(RunConfig(), 1)
    with pytest.raises(ValueError, match="STREAMREC_RUN_ID"):
        cluster_run_id(RunConfig(), 2)


def test_fresh_start_merges_its_run_and_drops_earlier_runs():
    box = DeltaInbox("now", resumed=False)
    assert box.offer(1, "before", 0, b"old") == []
    assert box.offer(1, "now", 0, b"a") == [b"a"]
    assert box.snapshot() == {}


def test_resumed_shard_holds_earlier_runs_until_the_origin_announces_its_new_run():
    box = DeltaInbox("r3", resumed=True, held={2: {3: b"kept-before-crash"}})
    # re-read after the resume: seq 4 was sent before the resumed epoch, 5 and 6 after it (void),
    # and the origin re-sends 4 (the delta its snapshot kept)
    for seq, payload in ((4, b"d4"), (5, b"void5"), (6, b"void6"), (4, b"d4-again")):
        assert box.offer(2, "r2", seq, payload) == []
    assert box.snapshot() == {2: {3: b"kept-before-crash", 4: b"d4-again", 5: b"void5", 6: b"void6"}}
    assert box.offer(0, "r3", 9, b"other origin") == [b"other origin"]  # origin 0 unaffected
    # the origin's first delta of run r3 continues at its snapshot's seq, 5
    assert box.offer(2, "r3", 5, b"new5") == [b"kept-before-crash", b"d4-again", b"new5"]
    assert box.offer(2, "r2", 6, b"late void") == []  # after the new run began: dropped
    assert box.offer(2, "r3", 6, b"new6") == [b"new6"]
    assert box.snapshot() == {}


def test_a_state_refuses_another_shard_count(tmp_path):
    from streamrec.state.run_topology import TopologyChanged, check_and_record

    check_and_record(tmp_path, {"clicks": 4, "model-deltas": 1}, 2, resuming=False, shards=2)
    check_and_record(tmp_path, {"clicks": 4, "model-deltas": 1}, 2, shards=2)
    with pytest.raises(TopologyChanged, match="shards were 2, now 4"):
        check_and_record(tmp_path, {"clicks": 4, "model-deltas": 1}, 2, shards=4)
    with pytest.raises(TopologyChanged, match="shards were 2, now 1"):
        check_and_record(tmp_path, {"clicks": 4, "model-deltas": 1}, 2)
