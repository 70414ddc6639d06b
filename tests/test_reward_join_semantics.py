"""RewardJoiner: rec_id join, fallback join, late, duplicate, expiry, bounds, snapshots."""

import json

from streamrec.flows.reward_join import RewardJoiner


def _joiner(**kw):
    j = RewardJoiner(window_s=60, **kw)
    j.record_decision(
        "r1", "u1", 100.0, ["a", "b", "c"], [0.9, 0.05, 0.05], "egreedy:0.1", "v1", "A", {"device": "mobile"}
    )
    return j


def test_rec_id_join_emits_full_record():
    j = _joiner()
    (rec,) = j.on_event("r1", "u1", "c", 130.0, "e1")
    assert rec["reward"] == 1.0 and rec["clicked_item"] == "c" and rec["position"] == 2
    assert rec["reward_latency_s"] == 30.0 and rec["decision_ts"] == 100.0
    assert rec["slate"] == {"items": ["a", "b", "c"], "propensities": [0.9, 0.05, 0.05]}
    assert rec["arm"] == "A" and rec["policy"] == "egreedy:0.1" and rec["context"] == {"device": "mobile"}
    json.dumps(rec)
    assert j.counters["joined_rec_id"] == 1


def test_fallback_join_by_user_and_shown_item():
    j = _joiner()
    assert j.on_event(None, "u2", "a", 110.0, "e1") == []  # other user
    assert j.on_event(None, "u1", "zzz", 110.0, "e2") == []  # not shown
    (rec,) = j.on_event(None, "u1", "b", 110.0, "e3")
    assert rec["position"] == 1
    assert j.counters["joined_fallback"] == 1 and j.counters["unmatched"] == 2


def test_late_and_duplicate_are_counted_not_emitted():
    j = _joiner()
    assert j.on_event("r1", "u1", "a", 500.0, "e1") == []  # after the window
    assert j.counters["late"] == 1
    assert len(j.on_event("r1", "u1", "a", 120.0, "e2")) == 1
    assert j.on_event("r1", "u1", "a", 121.0, "e3") == []  # same item again
    assert j.on_event("r1", "u1", "b", 122.0, "e2") == []  # same event id again
    assert j.counters["duplicate"] == 2
    assert j.on_event(None, "u1", "a", 500.0, "e9") == []  # fallback outside window
    assert j.counters["unmatched"] == 1


def test_expiry_emits_reward_zero_only_for_unclicked():
    j = _joiner()
    j.record_decision("r2", "u2", 105.0, ["x"], [1.0], "greedy", "v1", "B", {})
    j.on_event("r2", "u2", "x", 110.0, "e1")
    assert j.expire(150.0) == []  # windows still open
    out = j.expire(170.0)
    assert [(r["rec_id"], r["reward"], r["clicked_item"]) for r in out] == [("r1", 0.0, None)]
    assert j.counters["expired_no_click"] == 1
    assert j.on_event("r1", "u1", "a", 171.0, "e5") == [] and j.counters["late"] == 1
    assert not j.pending and not j.by_user


def test_bounded_pending_evicts_oldest():
    j = RewardJoiner(window_s=60, max_pending=3, max_remembered=5)
    for t in range(10):
        j.record_decision(f"r{t}", f"u{t % 2}", float(t), ["a"], [1.0], "p", "v")
    assert len(j.pending) == 3 and j.counters["evicted"] == 7
    assert len(j.closed) <= 5 and sum(len(v) for v in j.by_user.values()) == 3


def test_snapshot_roundtrip_preserves_behaviour():
    j = _joiner()
    j.on_event("r1", "u1", "a", 101.0, "e1")
    data = json.loads(json.dumps(j.to_dict()))
    k = RewardJoiner.from_dict(data)
    assert k.counters == j.counters
    assert k.on_event("r1", "u1", "a", 102.0, "e2") == []  # duplicate remembered
    assert len(k.on_event(None, "u1", "b", 103.0, "e3")) == 1
    assert [r["reward"] for r in k.expire(1000.0)] == []  # r1 was clicked


def _fallback_by_scan(j: RewardJoiner, user: str, item: str, ts: float):
    """The fallback's contract, by brute force: the newest of the user's listed pending
    decisions that showed ``item`` within the window (its rec_id), else None."""
    for rid in reversed(j.by_user.get(user, [])):
        d = j.pending[rid]
        if item in d["items"] and 0.0 <= ts - d["ts"] <= j.window_s:
            return rid
    return None


def test_the_shown_item_shortcut_joins_exactly_what_a_full_scan_joins():
    import random

    rng = random.Random(7)
    j = RewardJoiner(window_s=30, max_pending=40, max_per_user=4)
    items = [f"i{k}" for k in range(25)]
    ts, joined, unmatched = 0.0, 0, 0
    for step in range(6000):
        ts += rng.random()
        user = f"u{rng.randrange(6)}"
        if step == 3000:  # a restored joiner rebuilds its index on first use
            j = RewardJoiner.from_dict(json.loads(json.dumps(j.to_dict())))
        if rng.random() < 0.5:
            slate = rng.sample(items, rng.randrange(1, 6))
            j.record_decision(f"r{step}", user, ts, slate, [1.0 / len(slate)] * len(slate), "p", "v")
        else:
            item = rng.choice(items)
            expect = _fallback_by_scan(j, user, item, ts)
            got = j.on_event(None, user, item, ts, f"e{step}")
            assert [r["rec_id"] for r in got] == ([expect] if expect else []) or (
                expect and not got and item in j.pending[expect]["clicked"]  # a repeat click
            )
            joined += bool(got)
            unmatched += expect is None
        if rng.random() < 0.1:
            j.expire(ts)
        for u, ids in j.by_user.items():  # a superset of the live slates, bounded
            live = set().union(*(j.pending[r]["items"] for r in ids))
            shown = j.shown.get(u)
            assert shown is None or (live <= shown and len(shown) <= 2 * j.max_per_user * 5 + 5)
        assert set(j.shown) <= set(j.by_user)
    assert joined > 300 and unmatched > 300  # both paths ran


def test_a_typed_slate_is_remembered_as_the_converted_one():
    """``typed=True`` (the flow's str items and float scores) skips the per-item conversion,
    and the decision it leaves is the one the converting path leaves."""
    a, b = RewardJoiner(window_s=60), RewardJoiner(window_s=60)
    a.record_decision("r1", "u", 1.0, ["x", "y"], [0.75, 0.25], "p", "v", "A", {"c": 1}, scores=[2.0, 1.0])
    b.record_decision("r1", "u", 1.0, ["x", "y"], [0.75, 0.25], "p", "v", "A", {"c": 1}, [2.0, 1.0], typed=True)
    assert a.pending == b.pending and isinstance(b.pending["r1"]["items"], tuple)
    a.record_decision("r2", "u", 2.0, [7, 8], [1, 0], "p", "v")  # untyped ids and ints are converted
    assert a.pending["r2"]["items"] == ("7", "8") and a.pending["r2"]["propensities"] == (1.0, 0.0)
