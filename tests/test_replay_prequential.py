"""Protocol semantics of the prequential harness, on tiny hand-built streams."""

import numpy as np
import pytest

from streamrec.contract.events import ClickEvent
from streamrec.replay.baselines import DecayedPopularity, Popularity, RiverFM, RiverMF, Transitions
from streamrec.replay.prequential import eval_mask, run_prequential, warm_mask


def stream(pairs, types=None):
    types = types or ["click"] * len(pairs)
    return [ClickEvent(f"e{t}", 1.7e9 + t, u, i, ty) for t, ((u, i), ty) in enumerate(zip(pairs, types))]


ALL_MODELS = [Popularity, DecayedPopularity, Transitions, lambda: RiverFM(seed=3), lambda: RiverMF(seed=3)]


@pytest.mark.parametrize("make", ALL_MODELS)
def test_unseen_target_and_already_had_are_misses(make):
    ev = stream([("a", "x"), ("b", "x"), ("a", "x"), ("c", "z"), ("b", "x")])
    r = run_prequential(ev, [make()], stride=1).models
    ranks = next(iter(r.values())).ranks
    assert ranks[0] == 0  # x never seen before
    assert ranks[1] == 1  # b: x is the only candidate
    assert ranks[2] == 0  # a already had x
    assert ranks[3] == 0  # z never seen before
    assert ranks[4] == 0  # b already had x


@pytest.mark.parametrize("make", ALL_MODELS)
def test_user_items_are_excluded_from_candidates(make):
    # x is by far the most popular; a already had x, so y competes alone
    ev = stream([("b", "x"), ("c", "x"), ("d", "x"), ("b", "y"), ("a", "x"), ("a", "y")])
    ranks = next(iter(run_prequential(ev, [make()]).models.values())).ranks
    assert ranks[5] == 1


def test_popularity_ranks_against_remaining_candidates():
    ev = stream([("b", "x"), ("c", "x"), ("b", "y"), ("d", "z"), ("a", "y")])
    ranks = run_prequential(ev, [Popularity()]).models["popularity"].ranks
    # at event 4: x (2) > y (1) = z (1); ties pessimistic -> y ranks 3rd
    assert ranks[4] == 3


def test_impressions_are_observed_but_not_evaluated_nor_counted():
    ev = stream(
        [("a", "x"), ("b", "y"), ("e", "y"), ("c", "y"), ("b", "y")],
        types=["click", "impression", "impression", "click", "click"],
    )
    res = run_prequential(ev, [Popularity()])
    assert eval_mask(ev).tolist() == [True, False, False, True, True]
    ranks = res.models["popularity"].ranks
    assert ranks[3] == 2  # y is a candidate (observed) but its impressions add no count: x first
    assert ranks[4] == 2  # b's impression of y is not an interaction: y stays a candidate (tie)
    assert res.models["popularity"].all.n == 3


def test_warm_subset_is_users_with_an_earlier_event():
    ev = stream([("a", "x"), ("b", "x"), ("a", "y"), ("c", "y"), ("b", "y")])
    assert warm_mask(ev).tolist() == [False, False, True, False, True]
    res = run_prequential(ev, [Popularity()])
    m = res.models["popularity"]
    assert m.warm.n == 2 and m.all.n == 5
    assert m.warm.hr == pytest.approx(np.mean([1 <= m.ranks[t] <= 10 for t in (2, 4)]))


def test_stride_selects_every_nth_event():
    ev = stream([(f"u{t % 3}", f"i{t % 4}") for t in range(25)])
    assert np.flatnonzero(eval_mask(ev, stride=10)).tolist() == [0, 10, 20]
    res = run_prequential(ev, [Popularity()], stride=10)
    assert res.models["popularity"].all.n == 3
    assert np.all(res.models["popularity"].ranks[~res.evaluate] == 0)


class Scripted:
    """Test double: records what the harness feeds it and answers rank 1 everywhere."""

    def __init__(self, name="scripted", max_events=None, bad_shape=False):
        self.name, self.max_events, self.bad_shape = name, max_events, bad_shape
        self.calls = []

    def evaluate_and_learn(self, events, evaluate):
        self.calls.append(([e.event_id for e in events], np.array(evaluate)))
        return np.ones(len(events) + int(self.bad_shape), dtype=np.int32)


def test_harness_feeds_contiguous_chunks_in_order_and_masks_ranks():
    ev = stream([(f"u{t % 3}", f"i{t % 4}") for t in range(23)])
    m = Scripted()
    res = run_prequential(ev, [m], stride=2, chunk=5)
    fed = [i for ids, _ in m.calls for i in ids]
    assert fed == [e.event_id for e in ev]
    assert [len(ids) for ids, _ in m.calls] == [5, 5, 5, 5, 3]
    assert np.concatenate([e for _, e in m.calls]).tolist() == eval_mask(ev, 2).tolist()
    r = res.models["scripted"]
    assert r.ranks.tolist() == [int(t % 2 == 0) for t in range(23)]  # not-evaluated zeroed
    assert r.all.hr == 1.0 and r.all.n == 12
    assert len(r.series) == 5 and r.series[-1].end == 23 and r.events_per_s > 0


def test_subsampled_model_sees_a_prefix_and_prefix_metrics_compare_like_for_like():
    ev = stream([(f"u{t % 5}", f"i{t % 7}") for t in range(40)])
    slow, fast = Scripted("slow", max_events=12), Popularity()
    res = run_prequential(ev, [fast, slow], chunk=5)
    assert sum(len(ids) for ids, _ in slow.calls) == 12
    assert res.models["slow"].n_events == 12 and res.models["slow"].all.n == 12
    pre = res.on_prefix(12)
    assert pre["popularity"][0].n == 12
    full = res.models["popularity"].ranks
    assert pre["popularity"][0].hr == pytest.approx(np.mean((full[:12] >= 1) & (full[:12] <= 10)))


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(4)
    ev = stream([(f"u{rng.integers(9)}", f"i{rng.integers(15)}") for _ in range(200)])
    a = run_prequential(ev, [Popularity(), Transitions()], chunk=7)
    b = run_prequential(ev, [Popularity(), Transitions()], chunk=1000)
    for name in ("popularity", "transitions"):
        np.testing.assert_array_equal(a.models[name].ranks, b.models[name].ranks)


def test_bad_model_output_and_duplicate_names_are_rejected():
    ev = stream([("a", "x"), ("b", "x")])
    with pytest.raises(ValueError):
        run_prequential(ev, [Scripted(bad_shape=True)])
    with pytest.raises(ValueError):
        run_prequential(ev, [Popularity(), Popularity()])
