"""The reward join persisted incrementally (``flows.join_store``) reloads to the same joiner.

A seeded random mix of decisions, clicks (by rec_id and fallback), duplicates, expiries and
evictions (small limits, so the FIFO queues wrap) runs for several epochs; after each epoch
the ops are applied to a dict standing in for RocksDB. Reloading from it gives a joiner whose
state equals the live one's, and which then answers the same further events identically.
"""

from __future__ import annotations

import random

from streamrec.flows.join_store import JoinStore, load_joiner
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
    return j.to_dict(), j.seq


def test_incremental_store_reloads_the_same_joiner():
    rng = random.Random(7)
    j = RewardJoiner(window_s=40, max_pending=25, max_remembered=30)
    store, kv = JoinStore(), {}
    for epoch in range(8):
        _drive(j, rng, 60, 1000.0 + 100 * epoch, f"{epoch}-")
        _apply(kv, store.ops(j))
        back = load_joiner(sorted(kv.items()), 40)
        assert _state(back) == _state(j), epoch
    # the reloaded joiner behaves like the live one from here on
    back = load_joiner(sorted(kv.items()), 40)
    a = _drive(j, random.Random(1), 80, 5000.0, "z")
    b = _drive(back, random.Random(1), 80, 5000.0, "z")
    assert a == b and _state(back) == _state(j)


def test_unknown_stored_state_is_rewritten():
    kv = {b"j/p/0000000000000009": b"{}", b"j/meta": b"{}"}  # left by an earlier run
    j = RewardJoiner(window_s=10)
    j.record_decision("r1", "u", 1.0, ["a"], [1.0], "p", "v")
    _apply(kv, JoinStore().ops(j))
    assert _state(load_joiner(sorted(kv.items()), 10)) == _state(j)
    assert b"j/p/0000000000000009" not in kv


def test_nothing_stored_loads_none():
    assert load_joiner([], 10.0) is None
