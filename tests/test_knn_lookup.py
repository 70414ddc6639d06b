"""Item-kNN values looked up per item equal the scatter's bitwise; the candidate cap."""

from __future__ import annotations

import numpy as np
from numba import njit

from streamrec.online.engine_state import INT_COUNTERS, array_specs, build_state, initial_arrays
from streamrec.online.item_similarity import (
    cooc_update,
    knn_features,
    knn_fill,
    knn_lookup,
    knn_scatter,
    knn_scatter_dense,
    merge_touched,
    new_knn_scratch,
)
from streamrec.online.recommender import Recommender, RecommenderConfig
from streamrec.online.select_kth import SAMPLE, best_threshold, kth_largest


def _tables(rng, n_items, m_slots, n_events):
    """Co-occurrence rows from random sessions (crowded when ``m_slots`` is small)."""
    it, ct = np.full((n_items, m_slots), -1, np.int32), np.zeros((n_items, m_slots), np.float32)
    rec = np.full(20, -1, np.int32)
    for _ in range(n_events):
        j = int(rng.integers(n_items) if rng.random() < 0.5 else rng.zipf(1.5) % n_items)
        cooc_update(it, ct, rec, 20, j, 20, 0.95)
        rec[1:], rec[0] = rec[:-1].copy(), j
    pop = rng.integers(0, 40, n_items).astype(np.float64)
    return it, ct, 1.0 / np.sqrt(np.maximum(pop, 1.0))


@njit(cache=True)
def _fill_all(items, ks, rec, n):
    for j in range(n):
        knn_fill(j, items, ks, rec)


def _items(it, ct, rsp):
    cfg = RecommenderConfig(n_buckets=256, k=2, knn_slots=it.shape[1])
    items = build_state(initial_arrays(cfg), cfg).items
    return items._replace(knn_item=it, knn_cnt=ct, pop_rs=rsp)


def test_lookup_equals_the_scatter_bitwise_for_every_item():
    rng = np.random.default_rng(1)
    for m_slots in (4, 16, 64):
        n_items = 300
        it, ct, rsp = _tables(rng, n_items, m_slots, 4000)
        for _ in range(20):
            n_rec = int(rng.integers(0, 21))
            rec = rng.integers(0, n_items, 20).astype(np.int32)  # repeats included
            decay = float(rng.uniform(0.5, 1.0))
            out, kt = np.zeros(n_items), np.zeros(n_items, np.int32)
            knn_scatter(it, ct, rsp, rec, n_rec, decay, out, kt)
            dense = np.zeros(n_items)
            knn_scatter_dense(it, ct, rsp, rec, n_rec, decay, dense, n_items)
            w = np.zeros(20)
            g = 1.0
            for p in range(n_rec):  # the scatter's running product, not decay**p
                w[p] = g * rsp[rec[p]]
                g *= decay
            got = np.array([knn_lookup(it, ct, rsp, rec, w, n_rec, j) for j in range(n_items)])
            assert np.array_equal(got.view(np.int64), out.view(np.int64))
            assert np.array_equal(got.view(np.int64), dense.view(np.int64))


def test_deferred_request_fills_on_demand_and_resets_before_the_next():
    rng = np.random.default_rng(2)
    n_items = 200
    it, ct, rsp = _tables(rng, n_items, 16, 3000)
    items = _items(it, ct, rsp)
    ks = new_knn_scratch(n_items, 20)
    tr0, tr1, touched = np.zeros(n_items), np.zeros(n_items), np.zeros(2 * n_items, np.int32)
    for _ in range(10):
        rec = rng.integers(0, n_items, 20).astype(np.int32)
        ref = new_knn_scratch(n_items, 20)
        knn_features(items, ref, rec, 15, 0.85, -1, tr0, tr1, touched, 0, False, n_items)
        assert knn_features(items, ks, rec, 15, 0.85, -1, tr0, tr1, touched, 0, True, n_items) == 0
        assert not ks.x.any()  # nothing scattered: the previous request's values were reset
        _fill_all(items, ks, rec, n_items)
        assert np.array_equal(ks.x, ref.x)
        # a scattering request after a deferred one starts from zeros
        knn_features(items, ks, rec[::-1].copy(), 15, 0.85, -1, tr0, tr1, touched, 0, False, n_items)
        ref2 = new_knn_scratch(n_items, 20)
        knn_features(items, ref2, rec[::-1].copy(), 15, 0.85, -1, tr0, tr1, touched, 0, False, n_items)
        assert np.array_equal(ks.x, ref2.x)
        _fill_all(items, ks, rec, n_items)  # not deferred: x keeps the scatter's values
        assert np.array_equal(ks.x, ref2.x)


def test_kth_largest_matches_a_sort():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 100, 1000):
        a = np.round(rng.standard_normal(n), 1)  # ties
        for k in {0, n // 2, n - 1}:
            b = a.copy()
            v = kth_largest(b, n, k)
            assert v == np.sort(a)[::-1][k]
            assert (b[:k] >= v).all() and b[k] == v and (b[k + 1 :] <= v).all()
            assert np.array_equal(np.sort(b), np.sort(a))  # a permutation


def test_threshold_is_exact_also_when_the_sample_misleads():
    rng = np.random.default_rng(5)
    n = 2560
    vals = rng.random(n) * 0.5
    vals[:: n // SAMPLE] = 1.0  # every sampled value is among the largest
    for n_max in (1, 10, 300, 1000, n - 1):
        got = best_threshold(vals, n, n_max, np.zeros(n))
        assert got == np.sort(vals)[::-1][n_max - 1]


def test_merge_keeps_the_best_knn_items_ties_first_listed():
    rng = np.random.default_rng(4)
    n = 500
    x = np.round(rng.random(n), 2)
    x[rng.random(n) < 0.3] = 0.0  # not a neighbour
    kt = rng.permutation(np.flatnonzero(x)).astype(np.int32)
    tr0, tr1 = np.zeros(n), np.zeros(n)
    tr0[kt[::5]] = 1.0  # already candidates through the transitions
    for n_max in (0, 1, 50, 200, len(kt), len(kt) + 10):
        touched = np.zeros(2 * n, np.int32)
        n_t = merge_touched(kt, len(kt), tr0, tr1, touched, 0, x, new_knn_scratch(n), n_max)
        order = sorted(range(len(kt)), key=lambda t: (-x[kt[t]], t))[:n_max]
        want = [int(kt[t]) for t in sorted(order) if tr0[kt[t]] == 0.0]
        assert touched[:n_t].tolist() == want


def _stream(n_events, n_users, n_items, seed):
    rng = np.random.default_rng(seed)
    evs = []
    for t in range(n_events):
        known = 50 + (n_items - 50) * t // n_events  # the catalog grows past the threshold
        u = int(rng.integers(n_users))
        i = int((u * 7 + rng.integers(0, 30)) % known)
        ev = {"user": f"u{u}", "item": f"i{i}", "item_attributes": {"c": f"c{i % 9}"}}
        if rng.random() < 0.15:
            ev["type"] = "impression"
        evs.append(ev)
    return evs


def test_learning_with_looked_up_knn_equals_learning_with_the_scatter():
    """``rank_before=True`` scatters ``knn_u`` for every positive before learning it;
    ``rank_before=False`` looks it up: the learned states must be bitwise equal (and so
    are the candidates served after learning)."""
    cfg = RecommenderConfig(
        n_buckets=1 << 12, k=8, seed=3, full_rank_threshold=300, ivf_refresh_events=500, knn_slots=32
    )
    evs = _stream(3000, 80, 700, 9)
    runs = []
    for rank_before in (False, True):
        rec = Recommender(cfg)
        outs = [
            rec.process_batch(evs[b : b + 250], n_candidates=50, rank_before=rank_before) for b in range(0, 3000, 250)
        ]
        runs.append((rec.export_state().arrays, outs))
    (a, out_a), (b, out_b) = runs
    ready, stamp = INT_COUNTERS.index("ready"), INT_COUNTERS.index("stamp")
    assert a["cnt"][ready] > cfg.full_rank_threshold  # crossed into retrieval
    for name in array_specs(cfg):  # the engine's arrays (the drift monitor's differ)
        assert np.array_equal(a[name], b[name]), name
    assert np.array_equal(np.delete(a["cnt"], stamp), np.delete(b["cnt"], stamp))
    assert np.array_equal(a["glob"][:5], b["glob"][:5])  # w0, scale, logscale, loss sum and n
    for x, y in zip(out_a, out_b):
        assert np.array_equal(x.cand_idx, y.cand_idx)
        assert np.array_equal(x.cand_scores, y.cand_scores)
    assert any((r.target_rank > 0).any() for r in out_b)
