"""Recommender API: prequential semantics, persistence, determinism, robustness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamrec.online.engine_state import INT_COUNTERS, state_arrays
from streamrec.online.model_state import ModelState
from streamrec.online.recommender import BatchResult, Recommender, RecommenderConfig

SMALL = {
    "n_buckets": 1 << 12,
    "k": 4,
    "cache_refresh_events": 50,
    "trend_refresh_events": 10,
}


def synth(n=400, n_users=30, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    evs = []
    for t in range(n):
        u = int(rng.integers(n_users))
        i = int((u * 7 + rng.integers(0, 6)) % n_items)
        evs.append(
            {
                "user": f"u{u}",
                "item": f"i{i}",
                "ts": 1.7e9 + t,
                "type": "click",
                "context": {"g": "ab"[u % 2], "age": u % 4},
                "item_attributes": {"genres": [f"g{i % 5}", f"h{i % 3}"]},
            }
        )
    return evs


def test_target_rank_semantics():
    rec = Recommender(RecommenderConfig(**SMALL))
    evs = [
        {"user": "a", "item": "x"},  # x never observed -> 0
        {"user": "b", "item": "x"},  # observed, b never had it -> rank among {x}
        {"user": "a", "item": "x"},  # a already had x -> 0
        {"user": "a", "item": "y"},  # y unseen -> 0
        {"user": "c", "item": "y"},  # candidates {x, y} -> rank in 1..2
        {"user": "b", "item": "y"},  # b had x, so only y is a candidate -> rank 1
    ]
    res = rec.process_batch(evs, n_candidates=5, rank_before=True)
    assert isinstance(res, BatchResult)
    assert res.target_rank.dtype == np.int32
    r = res.target_rank.tolist()
    assert r[0] == 0 and r[1] == 1 and r[2] == 0 and r[3] == 0 and r[5] == 1
    assert r[4] in (1, 2)
    assert res.learned.all()
    # candidates after learning exclude the user's items
    assert res.cand_items[5] == []  # b had x and y: nothing left
    assert res.cand_items[4] == ["x"]  # c had y only
    assert res.cand_scores.shape == (6, 5) and np.isneginf(res.cand_scores[5]).all()


def test_evaluate_and_learn_equals_process_batch():
    evs = synth(200)
    mask = np.arange(200) % 3 == 0
    a = Recommender(RecommenderConfig(**SMALL)).evaluate_and_learn(evs, mask)
    full = Recommender(RecommenderConfig(**SMALL)).process_batch(evs, 0, rank_before=True).target_rank
    assert a.dtype == np.int32
    np.testing.assert_array_equal(a[mask], full[mask])
    assert (a[~mask] == 0).all() and (a[mask] > 0).any()


def test_ties_are_pessimistic():
    rec = Recommender(RecommenderConfig(**SMALL, n_negatives=0, lr=0.0, intercept_lr=0.0))
    rec.process_batch([{"user": f"u{i}", "item": f"i{i}"} for i in range(5)], 0)
    # lr = 0, no popularity prior: all unseen items of a brand-new user tie -> rank 5
    rec2 = Recommender(RecommenderConfig(**SMALL, n_negatives=0, lr=0.0, intercept_lr=0.0, init_std=0.0, pop_prior=0.0))
    rec2.process_batch([{"user": f"u{i}", "item": f"i{i}"} for i in range(5)], 0)
    r = rec2.process_batch([{"user": "new", "item": "i2"}], 0, rank_before=True).target_rank
    assert r[0] == 5


def _same_future(a: Recommender, b: Recommender, evs: list) -> None:
    """``a`` and ``b`` rank, learn and export ``evs`` identically (bitwise)."""
    r1, r2 = a.process_batch(evs, 10, rank_before=True), b.process_batch(evs, 10, rank_before=True)
    np.testing.assert_array_equal(r1.target_rank, r2.target_rank)
    assert r1.cand_items == r2.cand_items
    np.testing.assert_array_equal(r1.cand_scores, r2.cand_scores)
    assert a.rank("u3", k=7) == b.rank("u3", k=7)
    x, y = a.export_state(), b.export_state()
    assert x.meta == y.meta
    for name in x.arrays:
        np.testing.assert_array_equal(x.arrays[name], y.arrays[name], err_msg=name)


def test_round_trip_gives_identical_future():
    evs = synth(600)
    rec = Recommender(RecommenderConfig(**SMALL))
    rec.process_batch(evs[:300], 0)
    state = rec.export_state()
    assert isinstance(state, ModelState) and state.nbytes() > 0
    _same_future(rec, Recommender.from_state(state), evs[300:])


def test_export_is_cut_to_the_rows_in_use_and_restores_the_capacity():
    """Item, user and history arrays are exported with their rows in use only (a save is
    O(rows in use), not O(capacity)); the capacity travels in meta and a restore has it."""
    evs = synth(900, n_users=70, n_items=150, seed=5)
    rec = Recommender(RecommenderConfig(**SMALL))
    rec.process_batch(evs[:450], 0)
    state = rec.export_state()
    n_items, n_users = state.meta["n_items"], state.meta["n_users"]
    assert state.arrays["item_key"].shape[0] == n_items < state.meta["capacity_item"]
    assert state.arrays["knn_item"].shape[0] == n_items
    assert state.arrays["user_head"].shape[0] == n_users < state.meta["capacity_user"]
    n_hist = int(state.arrays["cnt"][INT_COUNTERS.index("hist")])
    assert 0 < state.arrays["hist_item"].shape[0] == n_hist < state.meta["capacity_hist"]
    assert state.arrays["fm_v"].shape[0] == SMALL["n_buckets"]  # fixed groups stay whole
    clone = Recommender.from_state(state)
    assert clone.export_state().meta["capacity_item"] == state.meta["capacity_item"]
    _same_future(rec, clone, evs[450:])


def test_a_state_saved_at_full_capacity_still_restores():
    """States saved before the cut (arrays at capacity, no ``capacity_*`` in meta) load and
    continue exactly."""
    evs = synth(600, n_users=70, n_items=150, seed=6)
    rec = Recommender(RecommenderConfig(**SMALL))
    rec.process_batch(evs[:300], 0)
    new = rec.export_state()
    arrays = {**state_arrays(rec.state, rec.config, copy=True), "drift_values": new.arrays["drift_values"]}
    meta = {k: v for k, v in new.meta.items() if not k.startswith("capacity_")}
    assert arrays["item_key"].shape[0] == new.meta["capacity_item"] > new.meta["n_items"]
    old = Recommender.from_state(ModelState(arrays, new.vocab, meta))
    _same_future(rec, old, evs[300:])


def test_history_is_a_bounded_ring_that_saves_and_restores_across_the_wrap(tmp_path):
    """With ``history_capacity`` 256 a long stream keeps 256 history rows; a state exported
    or stored after the ring wrapped continues exactly (the store gets the wrapped slots)."""
    from streamrec.state.store import ParamStore

    evs = synth(1500, n_users=40, n_items=120, seed=7)
    rec = Recommender(RecommenderConfig(**SMALL, history_capacity=256))
    with ParamStore(tmp_path) as store:
        rec.process_batch(evs[:200], 0)
        store.save(rec.export_state(copy=False), rec.dirty_rows())
        rec.clear_dirty()
        rec.process_batch(evs[200:900], 0)  # 900 positives: the ring wrapped more than twice
        store.save(rec.export_state(copy=False), rec.dirty_rows())
        rec.clear_dirty()
        loaded = store.load()
    state = rec.export_state()
    assert state.arrays["hist_item"].shape[0] == 256 == state.meta["capacity_hist"]
    assert int(state.arrays["cnt"][INT_COUNTERS.index("hist")]) == 900
    for name in state.arrays:
        np.testing.assert_array_equal(loaded.arrays[name], state.arrays[name], err_msg=name)
    twin, stored = Recommender.from_state(state), Recommender.from_state(loaded)
    _same_future(rec, twin, evs[900:1200])
    _same_future(stored, Recommender.from_state(state), evs[900:1200])


@pytest.mark.parametrize("bad", [100, 1000, 128])
def test_history_capacity_must_be_a_power_of_two(bad):
    with pytest.raises(ValueError, match="history_capacity"):
        RecommenderConfig(history_capacity=bad).validate()


def test_determinism_and_seed_sensitivity():
    evs = synth(300)
    runs = [Recommender(RecommenderConfig(**SMALL, seed=s)).process_batch(evs, 5, True) for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0].target_rank, runs[1].target_rank)
    assert runs[0].cand_items == runs[1].cand_items
    assert not np.array_equal(runs[0].cand_scores, runs[2].cand_scores)


def test_batch_split_does_not_change_results():
    evs = synth(300)
    one = Recommender(RecommenderConfig(**SMALL)).process_batch(evs, 3, True)
    rec = Recommender(RecommenderConfig(**SMALL))
    parts = [rec.process_batch(evs[s : s + 37], 3, True) for s in range(0, 300, 37)]
    np.testing.assert_array_equal(one.target_rank, np.concatenate([p.target_rank for p in parts]))


def test_bad_input_never_crashes_and_params_stay_finite():
    rec = Recommender(RecommenderConfig(**SMALL, lr=1e6, clip_param=50.0))
    bad = [
        {"user": None, "item": "x"},
        {"user": "a"},
        {},
        None,
        42,
        {"user": "a", "item": "x", "type": "nope"},
        {
            "user": "a",
            "item": "x",
            "context": {"v": float("nan"), "w": float("inf"), "z": [1, None, {}]},
        },
        {"user": "b", "item": "y", "context": "not a dict", "item_attributes": ["bad"]},
        {
            "user": "c",
            "item": "x",
            "context": {"big": 1e308},
            "item_attributes": {"p": -1e308},
        },
        {"user": ["list"], "item": "x"},
        {"user": "a" * 1000, "item": "x"},
    ] + synth(200)
    res = rec.process_batch(bad, n_candidates=5, rank_before=True)
    learned = res.learned.tolist()
    assert learned[:6] == [False] * 6 and learned[6:9] == [True] * 3  # odd context is dropped
    assert learned[9:11] == [False, False] and all(learned[11:])  # list / over-long user ids
    for name, arr in rec.export_state().arrays.items():
        if arr.dtype.kind == "f":
            assert np.isfinite(arr).all(), name
    assert all(math.isfinite(s) for _, s in rec.rank("a", {"v": float("nan")}))
    assert 0.0 <= rec.predict_one("a", "x", {"w": float("inf")}) <= 1.0


def test_impressions_are_negatives():
    cfg = RecommenderConfig(**SMALL, n_negatives=0)
    rec = Recommender(cfg)
    rec.process_batch(
        [{"user": f"w{i}", "item": "x"} for i in range(5)] + [{"user": f"w{i}", "item": "y"} for i in range(5)],
        0,
    )
    p0 = rec.predict_one("a", "y")
    rec.process_batch([{"user": "a", "item": "y", "type": "impression"}] * 20, 0)
    assert rec.predict_one("a", "y") < p0
    assert "y" in [i for i, _ in rec.rank("a", k=5)]  # an impression is not an interaction
    assert rec.stats()["events_learned"] == 30


def test_dirty_rows_track_changes():
    rec = Recommender(RecommenderConfig(**SMALL))
    rec.process_batch(synth(50), 0)
    rec.clear_dirty()
    d0 = rec.dirty_rows()
    assert d0["fm_v"].size == 0 and d0["item_pop"].size == 0
    before = rec.export_state()
    rec.learn_one({"user": "u1", "item": "i7"})
    after = rec.export_state()
    d = rec.dirty_rows()
    for name, rows in d.items():
        a, b = before.arrays[name], after.arrays[name]
        if a.shape != b.shape:
            continue
        changed = np.flatnonzero((a != b).reshape(a.shape[0], -1).any(axis=1))
        assert set(changed.tolist()) <= set(rows.tolist()), name
        assert rows.dtype == np.int64 and np.all(np.diff(rows) > 0)


def test_stats_and_unknown_user():
    rec = Recommender(RecommenderConfig(**SMALL))
    rec.process_batch(synth(300), 0, rank_before=True)
    st = rec.stats()
    assert st["events_learned"] == 300 and st["n_items"] > 10 and 0 < st["online_hit_rate"] <= 1
    cold = rec.rank("nobody", k=5)
    assert len(cold) == 5
    assert rec.rank("nobody", {"g": "a"}, k=5)


def test_click_event_objects_and_dicts_are_equivalent():
    from streamrec.contract.events import event_from_dict

    dicts = [dict(e, event_id=f"e{t}") for t, e in enumerate(synth(150))]
    for d in dicts:
        d["context"] = {k: str(v) for k, v in d["context"].items()}
    objs = [event_from_dict(d) for d in dicts]
    a = Recommender(RecommenderConfig(**SMALL)).process_batch(dicts, 5, rank_before=True)
    b = Recommender(RecommenderConfig(**SMALL)).process_batch(objs, 5, rank_before=True)
    np.testing.assert_array_equal(a.target_rank, b.target_rank)
    assert a.cand_items == b.cand_items


def test_item_metadata_update_changes_item_features():
    rec = Recommender(RecommenderConfig(**SMALL))
    rec.process_batch(synth(100), 0)
    p_before = rec.predict_one("u1", "i3")
    j = rec.catalog.items["i3"]
    nf_before = int(rec.export_state(copy=False).arrays["item_nf"][j])
    rec.add_item_metadata("i3", {"genres": ["g0", "g1", "new-genre"], "brand": "b"})
    assert int(rec.export_state(copy=False).arrays["item_nf"][j]) == 5 != nf_before
    assert rec.predict_one("u1", "i3") != p_before
