"""The batched pieces of the flow's hot path equal their one-at-a-time definitions.

* ``select_batch`` gives every event the slate and propensities ``policy.select`` gives it;
* ``load_json`` (orjson fast path) returns what the ``json`` reference returns, and
  refuses with the reference's reason code;
* ``observe_many`` fills a histogram exactly like ``observe`` per value;
* ``LastServed`` counts a hit iff the clicked item was in the user's last slate;
* ``serve_slates`` splits A/B arms and keeps every slate inside the candidates.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streamrec.contract.events import InvalidEvent, _load_json_std, load_json
from streamrec.flows.last_served import LastServed
from streamrec.flows.metrics import observe_many
from streamrec.flows.policy_spec import Arms
from streamrec.flows.slates import serve_slates
from streamrec.online.policies import make_policy
from streamrec.online.policies.batch import select_batch


def _candidates(rng, n_ev=60, n_top=20):
    scores = -np.sort(-rng.normal(size=(n_ev, n_top)), axis=1)
    counts = rng.integers(0, n_top + 1, n_ev)
    for e in range(n_ev):
        scores[e, counts[e] :] = -np.inf
    scores[1, 0], scores[2, :] = np.nan, 0.5  # NaN and ties
    counts[1] = counts[2] = n_top
    return scores, counts, rng.integers(0, 2**62, n_ev)


@pytest.mark.parametrize("spec", ["egreedy:0.1", "egreedy:0.7", "greedy", "uniform", "softmax:0.3"])
def test_select_batch_equals_select_per_event(spec):
    pol = make_policy(spec)
    scores, counts, seeds = _candidates(np.random.default_rng(3))
    idx, props, shown = select_batch(pol, scores, counts, 5, seeds)
    for e in range(scores.shape[0]):
        one = pol.select(np.arange(counts[e]), scores[e, : counts[e]], 5, seed=int(seeds[e]))
        assert shown[e] == len(one)
        assert idx[e, : shown[e]].tolist() == one.items.tolist()
        assert np.allclose(props[e, : shown[e]], one.propensities)
        assert (idx[e, shown[e] :] == -1).all()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["event_id", "user", "item", "ts", "rec_id", "x"]), JSON_VALUES))
def test_load_json_fast_path_equals_the_json_reference(obj):
    raw = json.dumps(obj).encode()
    assert load_json(raw) == _load_json_std(raw)


@pytest.mark.parametrize(
    "obj",
    [
        {"event_id": [[[-(2**63) - 1]]]},  # a wide integer below the depth any validator reads
        {"x": {"a": [[{"b": [2**70, 1.5]}]]}, "ts": 1.0},
        {"x": [[[[[[[[1, [2.0e19]]]]]]]]]},  # a wide float stays a float
    ],
)
def test_load_json_reads_numbers_at_any_depth_as_json_does(obj):
    raw = json.dumps(obj).encode()
    assert load_json(raw) == _load_json_std(raw) == obj


def test_load_json_walks_deep_nesting_without_recursion():
    raw = b'{"x": ' + b"[" * 500 + b"18446744073709551616" + b"]" * 500 + b"}"
    assert load_json(raw) == json.loads(raw)


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b'{"ts": NaN}', "non_finite_number"),
        (b'{"ts": -Infinity}', "non_finite_number"),
        (b'{"a": "\x01"}', "malformed_json"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (b"\xff{}", "bad_encoding"),
        ("\udcff".encode("utf-8", "surrogatepass"), "bad_encoding"),
        (b"[1]", "not_an_object"),
    ],
)
def test_load_json_refusals_keep_the_reference_reason(raw, reason):
    with pytest.raises(InvalidEvent) as err:
        load_json(raw)
    assert err.value.reason.split(":", 1)[0] == reason


def test_big_integer_ids_keep_their_digits():
    raw = b'{"event_id": 123456789012345678901234567890}'
    assert load_json(raw)["event_id"] == 123456789012345678901234567890


def test_observe_many_equals_observe_per_value():
    reg = CollectorRegistry()
    one = Histogram("one", "h", buckets=(0.01, 0.1, 1.0), registry=reg)
    many = Histogram("many", "h", buckets=(0.01, 0.1, 1.0), registry=reg)
    values = np.array([0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 3.0, 0.01])
    for v in values:
        one.observe(v)
    observe_many(many, values)
    text = generate_latest(reg).decode().splitlines()

    def samples(name: str) -> list[str]:
        return [
            ln.split(" ", 1)[1].replace(name, "") for ln in text if ln.startswith(name + "_") and "_created" not in ln
        ]

    assert samples("one") == samples("many")


def test_last_served_hit_rate():
    t = LastServed(max_users=2)
    assert t.check("u1", "a") is None  # never served: not counted
    t.serve("u1", ["a", "b"])
    assert t.check("u1", "b") is True and t.check("u1", "c") is False
    t.serve("u2", ["x"])
    t.serve("u3", ["y"])  # u1 was served least recently: forgotten
    assert t.check("u1", "a") is None and t.check("u3", "y") is True
    assert (t.hits, t.checked, t.rate) == (2, 3, 2 / 3)


def test_serve_slates_ab_split_uses_each_users_arm():
    arms = Arms.parse("egreedy:0.1", "a=greedy@0.5,b=uniform@0.5")
    users = [f"u{i}" for i in range(40)]
    cand = [[f"i{i}-{j}" for j in range(8 - i % 2)] for i in range(40)]  # odd rows: 7 candidates
    ids = [c for row in cand for c in row]
    starts = np.cumsum([0] + [len(row) for row in cand])
    idx = np.full((40, 8), -1)
    for i, row in enumerate(cand):
        idx[i, : len(row)] = np.arange(starts[i], starts[i] + len(row))
    scores = np.where(idx >= 0, np.tile(np.arange(8, 0, -1, dtype=float), (40, 1)), -np.inf)
    sl = serve_slates(arms, users, [f"e{i}" for i in range(40)], idx, ids, scores, 3)
    assert {a for a in sl.arms} == {"a", "b"}
    for i, u in enumerate(users):
        assert sl.arms[i] == arms.for_user(u)[0]
        assert len(sl.items[i]) == 3 and set(sl.items[i]) <= set(cand[i])
        if sl.arms[i] == "a":  # greedy: the top three, shown for sure
            assert sl.items[i] == cand[i][:3] and sl.propensities[i] == [1.0, 1.0, 1.0]


def test_rewards_reach_only_policies_that_learn_from_them():
    """UCB and Thompson keep per-item counts from rewards; the stateless policies skip them."""
    assert [make_policy(s).learns for s in ("greedy", "uniform", "egreedy:0.1", "softmax:1")] == [False] * 4
    assert not Arms.parse("egreedy:0.1").learns and not Arms.parse("", "a=greedy@0.5,b=softmax:1@0.5").learns
    assert Arms.parse("", "a=greedy@0.5,b=ucb:1@0.5").learns
    arms = Arms.parse("", "a=ucb:1@0.5,b=thompson:1@0.5")
    assert all(p.learns for p in arms.policies.values())
    record = {"arm": "a", "policy": "ucb:1", "slate": {"items": ["x", "y"]}, "clicked_item": "y"}
    arms.learn_reward(record)
    assert arms.policies["a"].counts == {"x": 1.0, "y": 1.0}
    assert arms.policies["b"].counts == {}


def test_serve_slates_scores_are_finite_and_the_candidates_own():
    """Greedy shows the top of each row; NaN scores become 0 and infinities +-1e300."""
    arms = Arms.parse("greedy", "")
    idx = np.array([[2, 0, 1, -1], [1, 2, -1, -1], [-1, -1, -1, -1]])
    scores = np.array([[np.inf, 0.1234567, np.nan, -np.inf], [-np.inf, -2.0, -np.inf, -np.inf], [-np.inf] * 4])
    sl = serve_slates(arms, ["a", "b", "c"], ["e1", "e2", "e3"], idx, ["x", "y", "z"], scores, 3)
    assert sl.items == [["z", "x", "y"], ["z", "y"], []]  # by score: NaN and -inf last
    assert sl.scores == [[1e300, 0.123457, 0.0], [-2.0, -1e300], []]
    assert sl.propensities == [[1.0, 1.0, 1.0], [1.0, 1.0], []]
