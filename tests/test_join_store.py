"""The reward join persisted in blocks (``flows.join_store``) reloads to the same joiner.

A seeded random mix of decisions, clicks (by rec_id and fallback), duplicates, expiries and
evictions (small limits, so the FIFO queues wrap) runs for several epochs of several batches;
each batch's entries are encoded as blocks, and after each epoch the ops are applied to a
dict standing in for RocksDB. Reloading from it gives a joiner whose state equals the live
one's, which then answers the same further events identically, and whose store continues
the stored state correctly.
"""

from __future__ import annotations

import random

import orjson

from streamrec.flows.join_store import JoinStore, load_join
from streamrec.flows.reward_join import RewardJoiner


def _apply(kv: dict, ops) -> None:
    puts, ranges = ops
    for start, end in ranges:
        for k in [k for k in kv if start <= k < end]:
            del kv[k]
    kv.update(puts)


def _drive(j: RewardJoiner, rng: random.Random, n: int, t0: float, tag: str) -> list:
    out = []
    for i in range(n):
        ts = t0 + i
        u = f"u{rng.randrange(6)}"
        roll = rng.random()
        if roll < 0.45:
            items = [f"i{rng.randrange(12)}" for _ in range(3)]
            j.record_decision(f"r{tag}{i}", u, ts, items, [0.5, 0.3, 0.2], "p", "v", None, {"c": ("x",)})
        elif roll < 0.75:
            out += j.on_event(None, u, f"i{rng.randrange(12)}", ts, f"e{tag}{i}")
        elif roll < 0.9:
            rid = f"r{tag}{rng.randrange(max(i, 1))}"
            out += j.on_event(rid, u, f"i{rng.randrange(12)}", ts, f"e{tag}{i}")
        else:
            out += j.expire(ts)
    return out


def _state(j: RewardJoiner) -> tuple:
    return j.to_dict(), j.seq, j.by_user


def _load(kv: dict, window_s: float) -> tuple[RewardJoiner, JoinStore]:
    loaded = load_join(sorted(kv.items()), window_s)
    assert loaded is not None
    return loaded


def _epochs(j: RewardJoiner, store: JoinStore, kv: dict, rng: random.Random, n: int, tag: str) -> None:
    for epoch in range(n):
        for batch in range(rng.randrange(1, 4)):  # the flow encodes after every batch
            _drive(j, rng, rng.randrange(5, 40), 1000.0 + 100 * epoch + 30 * batch, f"{tag}{epoch}.{batch}-")
            store.encode(j)
        _drive(j, rng, 5, 1090.0 + 100 * epoch, f"{tag}{epoch}-")  # not encoded before the commit
        _apply(kv, store.ops(j))
        assert _state(_load(kv, 40)[0]) == _state(j), (tag, epoch)


def test_block_store_reloads_the_same_joiner_and_continues_it():
    rng = random.Random(7)
    j = RewardJoiner(window_s=40, max_pending=25, max_remembered=30, max_per_user=4)
    kv: dict = {}
    _epochs(j, JoinStore(), kv, rng, 8, "a")
    # the reloaded joiner behaves like the live one from here on
    back, back_store = _load(kv, 40)
    a = _drive(j, random.Random(1), 80, 5000.0, "z")
    b = _drive(back, random.Random(1), 80, 5000.0, "z")
    assert a == b and _state(back) == _state(j)
    # and its store carries on from what is stored (a resumed run's next epochs)
    _epochs(back, back_store, kv, random.Random(3), 6, "b")
    # blocks leave with their entries: the stored keys stay bounded by the queues' limits
    assert len([k for k in kv if k.startswith(b"j/p/")]) <= 25
    assert len([k for k in kv if k.startswith(b"j/k/")]) <= 25


def test_a_click_on_a_decision_stored_in_an_earlier_epoch_is_stored():
    j, store, kv = RewardJoiner(window_s=100), JoinStore(), {}
    j.record_decision("r1", "u", 1.0, ["a", "b"], [0.5, 0.5], "p", "v")
    store.encode(j)
    _apply(kv, store.ops(j))
    assert _load(kv, 100)[0].pending["r1"]["clicked"] == ()
    j.on_event("r1", "u", "b", 2.0, "e1")
    _apply(kv, store.ops(j))
    assert _load(kv, 100)[0].pending["r1"]["clicked"] == ("b",)


def test_a_click_encoded_in_a_batch_is_stored_unless_its_decision_left_before_the_commit():
    j, store, kv = RewardJoiner(window_s=10), JoinStore(), {}
    j.record_decision("r1", "u", 1.0, ["a"], [1.0], "p", "v")
    j.record_decision("r2", "u", 8.0, ["b"], [1.0], "p", "v")
    _apply(kv, store.ops(j))  # the first commit writes everything
    j.on_event("r1", "u", "a", 2.0, "e1")
    j.on_event("r2", "u", "b", 9.0, "e2")
    store.encode(j)  # a batch: both clicks encoded now, not at the commit
    assert not j.touched
    j.expire(12.0)  # r1's window has passed: it leaves the queue before the commit
    _apply(kv, store.ops(j))
    assert [k for k in kv if k.startswith(b"j/k/")] == [b"j/k/0000000000000001"]
    back = _load(kv, 10)[0]
    assert list(back.pending) == ["r2"] and back.pending["r2"]["clicked"] == ("b",)


def test_unknown_stored_state_is_rewritten():
    kv = {b"j/p/0000000000000009": b"{}", b"j/meta": b"{}"}  # left by an earlier run
    j = RewardJoiner(window_s=10)
    j.record_decision("r1", "u", 1.0, ["a"], [1.0], "p", "v")
    _apply(kv, JoinStore().ops(j))
    assert _state(_load(kv, 10)[0]) == _state(j)
    assert b"j/p/0000000000000009" not in kv


def test_the_one_entry_per_key_format_loads_and_is_rewritten_in_blocks():
    j = RewardJoiner(window_s=50)
    j.record_decision("r1", "u", 1.0, ["a", "b"], [0.5, 0.5], "p", "v", None, {"c": ("x",)})
    j.record_decision("r2", "u", 2.0, ["c"], [1.0], "p", "v")
    j.on_event("r1", "u", "a", 3.0, "e1")
    d1, d2 = (dict(d) for d in j.pending.values())
    meta = {k: getattr(j, k) for k in ("window_s", "max_pending", "max_remembered", "max_per_user", "counters", "seq")}
    kv = {  # as the release before this format wrote it
        b"j/meta": orjson.dumps(meta),
        b"j/p/0000000000000000": orjson.dumps(d1),
        b"j/p/0000000000000001": orjson.dumps(d2),
        b"j/s/0000000000000000": b"e1",
    }
    back, store = _load(kv, 50)
    assert _state(back) == _state(j)
    _apply(kv, store.ops(back))
    assert _state(_load(kv, 50)[0]) == _state(j)
    assert b"j/p/0000000000000001" not in kv  # now in the block at 0


def test_nothing_stored_loads_none():
    assert load_join([], 10.0) is None
