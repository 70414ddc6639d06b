"""Recency item-kNN kernels (online.item_similarity) against a dense numpy twin."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.online.config import RecommenderConfig
from streamrec.online.engine_state import build_state, derived_item_arrays, initial_arrays
from streamrec.online.item_similarity import (
    cooc_update,
    knn_features,
    knn_scatter,
    knn_scatter_dense,
    merge_touched,
    new_knn_scratch,
    topm_add,
)
from streamrec.online.recommender import Recommender


def _stream(rng, n_items: int, n_users: int, n_events: int):
    return [(int(rng.integers(n_users)), int(rng.integers(n_items))) for _ in range(n_events)]


def _replay(events, n_items, m_slots, window, wdecay=1.0):
    """Kernel tables and a dense twin of the same co-occurrence counts (the ``p``-th most
    recent item weighted ``wdecay**p``) and histories."""
    it = np.full((n_items, m_slots), -1, np.int32)
    ct = np.zeros((n_items, m_slots), np.float32)
    dense = np.zeros((n_items, n_items))
    pop = np.zeros(n_items)
    hist: dict[int, list[int]] = {}
    for u, j in events:
        h = hist.setdefault(u, [])
        rec = np.array(h[::-1], np.int32)
        cooc_update(it, ct, rec, len(rec), j, window, wdecay)
        for p, i in enumerate(h[::-1][:window]):
            if i != j:
                dense[i, j] += wdecay**p
                dense[j, i] += wdecay**p
        pop[j] += 1.0
        h.append(j)
    return it, ct, dense, pop, hist


def _twin_scores(dense, pop, rec, decay):
    out = np.zeros(dense.shape[0])
    for p, i in enumerate(rec):
        out += decay**p * dense[i] / np.sqrt(max(pop[i], 1.0))
    return out / np.sqrt(np.maximum(pop, 1.0))


@pytest.mark.parametrize(("window", "wdecay"), [(1, 1.0), (3, 1.0), (50, 1.0), (50, 0.9)])
def test_scatter_matches_dense_twin_when_rows_are_roomy(window, wdecay):
    rng = np.random.default_rng(window)
    n_items = 12  # <= PROBE and far below M: every item finds its slot, counts are exact
    events = _stream(rng, n_items, 5, 300)
    it, ct, dense, pop, hist = _replay(events, n_items, 64, window, wdecay)
    rsp = 1.0 / np.sqrt(np.maximum(pop, 1.0))  # Items.pop_rs
    for h in hist.values():
        rec = np.array(h[::-1][:7], np.int32)
        out = np.zeros(n_items)
        touched = np.zeros(n_items, np.int32)
        n_t = knn_scatter(it, ct, rsp, rec, len(rec), 0.8, out, touched)
        twin = _twin_scores(dense, pop, rec, 0.8)
        np.testing.assert_allclose(out, twin, rtol=1e-5)
        assert sorted(touched[:n_t].tolist()) == np.flatnonzero(out).tolist()
        out_dense = np.zeros(n_items + 3)  # capacity beyond the catalog stays zero
        knn_scatter_dense(it, ct, rsp, rec, len(rec), 0.8, out_dense, n_items)
        np.testing.assert_allclose(out_dense[:n_items], twin, rtol=1e-5)
        assert not out_dense[n_items:].any()


def test_scatter_lists_each_scored_item_once_and_skips_zero_weights():
    """Listing rides on ``out[j] == 0``: a zero term (decay 0 past the first recent item, or
    a slot whose count is 0) neither lists an item nor lists it a second time later."""
    it, ct = np.full((4, 8), -1, np.int32), np.zeros((4, 8), np.float32)
    cooc_update(it, ct, np.array([0], np.int32), 1, 1, 10, 1.0)  # c(0,1) = c(1,0) = 1
    cooc_update(it, ct, np.array([0], np.int32), 1, 2, 10, 1.0)  # c(0,2) = c(2,0) = 1
    topm_add(it, ct, 1, 3, 0.0)  # an occupied slot holding a zero count
    out, kt = np.zeros(4), np.zeros(16, np.int32)
    rec = np.array([1, 0, 2], np.int32)
    n = knn_scatter(it, ct, np.ones(4), rec, 3, 0.0, out, kt)  # weights 1, 0, 0
    assert sorted(kt[:n].tolist()) == np.flatnonzero(out).tolist() == [0]
    out[:] = 0.0
    n = knn_scatter(it, ct, np.ones(4), rec, 3, 1.0, out, kt)  # item 0 reached from 1 and 2
    assert sorted(kt[:n].tolist()) == np.flatnonzero(out).tolist() == [0, 1, 2]
    assert out.tolist() == [2.0, 1.0, 1.0, 0.0]


def test_merge_appends_only_items_without_transition_features():
    it, ct = np.full((3, 8), -1, np.int32), np.zeros((3, 8), np.float32)
    cooc_update(it, ct, np.array([0, 1], np.int32), 2, 2, 10, 1.0)
    out, ktouched = np.zeros(3), np.zeros(3, np.int32)
    n_k = knn_scatter(it, ct, np.ones(3), np.array([2, 2], np.int32), 2, 0.5, out, ktouched)
    assert n_k == 2 and out[:2].tolist() == [
        1.5,
        1.5,
    ]  # listed once, both recent copies summed
    tr0, tr1 = np.zeros(3), np.zeros(3)
    tr0[0] = 2.0  # item 0 already touched by the transition features
    touched = np.zeros(6, np.int32)
    n_t = merge_touched(ktouched, n_k, tr0, tr1, touched, 1, out, new_knn_scratch(3), 10)
    assert n_t == 2 and touched[:2].tolist() == [0, 1]


def test_crowded_row_never_overestimates():
    rng = np.random.default_rng(3)
    it, ct = np.full((1, 4), -1, np.int32), np.zeros((1, 4), np.float32)
    true = np.zeros(30)
    for j in rng.integers(0, 30, 400):
        topm_add(it, ct, 0, int(j), 1.0)
        true[j] += 1.0
    kept = it[0] >= 0
    assert kept.all() and len(set(it[0].tolist())) == 4
    assert all(ct[0, m] <= true[it[0, m]] for m in range(4))


def test_self_pairs_are_skipped():
    it, ct = np.full((2, 8), -1, np.int32), np.zeros((2, 8), np.float32)
    cooc_update(it, ct, np.array([1, 1, 0], np.int32), 3, 1, 10, 1.0)
    assert (it[1] == 1).sum() == 0 and ct[1][it[1] == 0].tolist() == [1.0]


def _items(it, ct, pop):
    cfg = RecommenderConfig(n_buckets=256, k=2, knn_slots=it.shape[1])
    items = build_state(initial_arrays(cfg), cfg).items
    pop_rs = derived_item_arrays({"vsum": items.vsum, "pop": pop, "clnext": items.clnext})["pop_rs"]
    return items._replace(knn_item=it, knn_cnt=ct, pop=pop, pop_rs=pop_rs)


def test_knn_features_dense_and_sparse_agree_and_reset_the_last_request():
    rng = np.random.default_rng(5)
    n_items = 10
    it, ct, dense, pop, hist = _replay(_stream(rng, n_items, 4, 200), n_items, 32, 5)
    items = _items(it, ct, pop)
    ks = new_knn_scratch(n_items)
    tr0, tr1 = np.zeros(n_items), np.zeros(n_items)
    tr0[2] = 1.0  # item 2 already has a transition feature
    touched = np.zeros(2 * n_items, np.int32)
    touched[0] = 2
    for h in hist.values():
        rec = np.array(h[::-1][:4], np.int32)
        twin = _twin_scores(dense, pop, rec, 0.9)
        assert knn_features(items, ks, rec, len(rec), 0.9, n_items, tr0, tr1, touched, 1, False, 1000) == 1
        np.testing.assert_allclose(ks.x, twin, rtol=1e-5)
        n_t = knn_features(items, ks, rec, len(rec), 0.9, -1, tr0, tr1, touched, 1, False, 1000)
        np.testing.assert_allclose(ks.x, twin, rtol=1e-5)  # the dense values were reset
        nz = set(np.flatnonzero(twin).tolist())
        assert sorted(touched[:n_t].tolist()) == sorted(nz | {2})
    off = items._replace(knn_item=it[:, :0], knn_cnt=ct[:, :0])
    ks.x[:] = 0.0
    assert knn_features(off, ks, rec, len(rec), 0.9, n_items, tr0, tr1, touched, 1, False, 1000) == 1
    assert not ks.x.any()


def _log(n_events: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        {
            "user": f"u{rng.integers(30)}",
            "item": f"i{rng.integers(60)}",
            "ts": 1.7e9 + t,
        }
        for t in range(n_events)
    ]


def test_engine_state_round_trip_with_knn_is_bitwise():
    cfg = RecommenderConfig(n_buckets=4096, k=4, knn_slots=16, knn_window=5, knn_recent=5)
    log = _log(600)
    a = Recommender(cfg)
    a.process_batch(log[:300], n_candidates=0)
    st = a.export_state()
    assert (st.arrays["knn_item"] >= 0).sum() > 0 and st.arrays["knn_item"].shape[1] == 16
    b = Recommender.from_state(st)
    ra = a.process_batch(log[300:], n_candidates=5, rank_before=True)
    rb = b.process_batch(log[300:], n_candidates=5, rank_before=True)
    np.testing.assert_array_equal(ra.target_rank, rb.target_rank)
    sa, sb = a.export_state(), b.export_state()
    for name, arr in sa.arrays.items():
        np.testing.assert_array_equal(arr, sb.arrays[name], err_msg=name)


def test_knn_feature_changes_ranks_and_zero_slots_turns_it_off():
    log = _log(800, 1)
    base = {"n_buckets": 4096, "k": 4}
    ranks = {}
    for name, extra in [
        ("off", {"knn_slots": 0}),
        ("off_prior", {"knn_slots": 0, "knn_prior": 50.0}),
        ("on", {"knn_slots": 32}),
    ]:
        rec = Recommender(RecommenderConfig(**base, **extra))
        ranks[name] = rec.process_batch(log, n_candidates=0, rank_before=True).target_rank
        assert "knn_item" in rec.export_state().arrays
    np.testing.assert_array_equal(ranks["off"], ranks["off_prior"])  # no table: no feature
    assert (ranks["on"] != ranks["off"]).any()


def test_state_saved_without_knn_arrays_loads_with_empty_tables():
    rec = Recommender(RecommenderConfig(n_buckets=4096, k=4, knn_slots=8))
    rec.process_batch(_log(200), n_candidates=0)
    st = rec.export_state()
    del st.arrays["knn_item"], st.arrays["knn_cnt"]
    back = Recommender.from_state(st)
    arrays = back.export_state().arrays
    assert (arrays["knn_item"] == -1).all() and arrays["knn_item"].shape == (
        st.arrays["item_key"].shape[0],
        8,
    )
    back.process_batch(_log(50, 2), n_candidates=3)
