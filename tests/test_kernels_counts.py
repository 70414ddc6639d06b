"""Count kernels (neighbours, popularity, history, scoring, rng) against numpy twins."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from streamrec.online.hashing import counter_uniform, splitmix64
from streamrec.online.history import hist_append, mark_seen, recent_items
from streamrec.online.neighbours import ss_add, ss_count
from streamrec.online.popularity import decayed_add, top_items
from streamrec.online.scoring import (
    LOG_POP_FLOOR,
    clear_transitions,
    item_score,
    scatter_transitions,
    score_all,
)

MASK = (1 << 64) - 1


def splitmix_twin(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_rng_matches_twin_and_is_uniform():
    for x in (0, 1, 12345, 2**63 + 7):
        assert int(splitmix64(np.uint64(x))) == splitmix_twin(x)
    draws = np.array([counter_uniform(42, c, q) for c in range(2000) for q in range(5)])
    assert 0.0 <= draws.min() and draws.max() < 1.0
    assert abs(draws.mean() - 0.5) < 0.02 and len(np.unique(draws)) == draws.size
    assert counter_uniform(1, 5, 0) != counter_uniform(2, 5, 0)


def test_space_saving_exact_when_table_is_large_enough():
    rng = np.random.default_rng(0)
    stream = rng.integers(0, 10, 500)
    it, ct = np.full((1, 16), -1, np.int32), np.zeros((1, 16), np.float32)
    for j in stream:
        ss_add(it, ct, 0, int(j), 1.0)
    truth = Counter(stream.tolist())
    for j in range(12):
        assert ss_count(it, ct, 0, j) == truth.get(j, 0)


def test_space_saving_keeps_heavy_hitters_and_bounds_error():
    rng = np.random.default_rng(1)
    heavy = [0] * 300 + [1] * 200
    stream = np.array(heavy + rng.integers(2, 400, 1500).tolist())
    rng.shuffle(stream)
    m = 8
    it, ct = np.full((1, m), -1, np.int32), np.zeros((1, m), np.float32)
    for j in stream:
        ss_add(it, ct, 0, int(j), 1.0)
    truth = Counter(stream.tolist())
    assert 0 in it[0] and 1 in it[0]
    for slot in range(m):  # never underestimates; overestimates by at most N/M
        j = int(it[0, slot])
        assert truth[j] <= ct[0, slot] <= truth[j] + len(stream) / m


def test_decayed_popularity_matches_direct_formula_through_renormalisation():
    h = 3.0
    growth = 2 ** (1 / h)
    popd, scale, dirty = np.zeros(3), 1.0, np.zeros(3, np.bool_)
    rng = np.random.default_rng(2)
    items = rng.integers(0, 3, 3000)  # scale passes 1e100 after ~1000 events
    for j in items:
        scale = decayed_add(popd, scale, growth, int(j), dirty)
    t = len(items)
    for j in range(3):
        direct = sum(2 ** (-(t - 1 - e) / h) for e in range(t) if items[e] == j)
        assert popd[j] / scale == pytest.approx(direct, rel=1e-9)


def test_top_items_matches_argsort():
    vals = np.random.default_rng(3).random(200)
    vals[::7] = 0.0
    out = np.full(10, -1, np.int32)
    n = top_items(vals, 200, 10, out, np.zeros(10))
    assert n == 10
    assert out.tolist() == np.argsort(-vals, kind="stable")[:10].tolist()


def test_history_linked_lists():
    hi, hp = np.zeros(16, np.int32), np.zeros(16, np.int64)
    head = np.full(3, -1, np.int64)
    n = 0
    for u, item in [(0, 5), (1, 6), (0, 7), (2, 1), (0, 9)]:
        n = hist_append(hi, hp, head, u, item, n)
    rec = np.zeros(5, np.int32)
    assert recent_items(hi, hp, head, 0, rec, 5, n) == 3 and rec[:3].tolist() == [9, 7, 5]
    assert recent_items(hi, hp, head, -1, rec, 5, n) == 0
    mark = np.zeros(10, np.int64)
    mark_seen(hi, hp, head, 0, mark, 4, n)
    assert np.flatnonzero(mark == 4).tolist() == [5, 7, 9]


@pytest.mark.parametrize("ring", [8, 64])
def test_history_ring_keeps_exactly_the_last_entries(ring):
    """Against a plain list of every (user, item) appended: a user's live history is their
    entries among the last ``ring`` appends overall, newest first, whatever the wrap."""
    rng = np.random.default_rng(ring)
    hi, hp = np.zeros(ring, np.int32), np.zeros(ring, np.int64)
    head = np.full(5, -1, np.int64)
    log: list[tuple[int, int]] = []
    n = 0
    rec, mark = np.zeros(100, np.int32), np.zeros(50, np.int64)
    for t in range(400):
        u, item = int(rng.integers(5)), int(rng.integers(50))
        n = hist_append(hi, hp, head, u, item, n)
        log.append((u, item))
        for v in range(5):
            want = [i for w, i in reversed(log[-ring:]) if w == v]
            got = recent_items(hi, hp, head, v, rec, 100, n)
            assert rec[:got].tolist() == want
            short = recent_items(hi, hp, head, v, rec, 3, n)
            assert rec[:short].tolist() == want[:3]
            mark_seen(hi, hp, head, v, mark, t * 5 + v + 1, n)
            assert set(np.flatnonzero(mark == t * 5 + v + 1).tolist()) == set(want)


def test_scatter_and_scoring_match_twins():
    rng = np.random.default_rng(4)
    n_items, m, k = 50, 6, 5
    nbr_item = np.full((n_items, m), -1, np.int32)
    nbr_cnt = np.zeros((n_items, m), np.float32)
    for _ in range(400):
        ss_add(
            nbr_item,
            nbr_cnt,
            int(rng.integers(n_items)),
            int(rng.integers(n_items)),
            1.0,
        )
    rec = np.array([3, 8, 3], np.int32)
    decay = 0.5
    tr0, tr1 = np.zeros(n_items), np.zeros(n_items)
    touched = np.zeros(2 * n_items + 8, np.int32)
    n_t = scatter_transitions(nbr_item, nbr_cnt, rec, 3, decay, tr0, tr1, touched)
    assert len(set(touched[:n_t].tolist())) == n_t
    for j in range(n_items):
        c0 = ss_count(nbr_item, nbr_cnt, 3, j)
        c1 = decay * ss_count(nbr_item, nbr_cnt, 8, j) + decay**2 * ss_count(nbr_item, nbr_cnt, 3, j)
        assert tr0[j] == pytest.approx(math.sqrt(c0)) and tr1[j] == pytest.approx(math.sqrt(c1))
    # score_all (vectorised over items) == item_score (one item) == numpy twin
    vsum = rng.normal(size=(n_items, k)).astype(np.float32)
    wsum, pair = (
        rng.normal(size=n_items).astype(np.float32),
        rng.normal(size=n_items).astype(np.float32),
    )
    lpop, lpopd = rng.random(n_items), np.log(rng.random(n_items) + 0.01)
    sa, anum = rng.normal(size=k), rng.normal(size=5)
    knn = np.where(rng.random(n_items) < 0.5, rng.random(n_items), 0.0)
    out = np.zeros(n_items)
    score_all(
        n_items,
        sa,
        anum,
        np.ascontiguousarray(vsum.T),
        wsum,
        pair,
        lpop,
        lpopd,
        0.7,
        tr0,
        tr1,
        knn,
        touched,
        n_t,
        out,
    )
    twin = (
        wsum.astype(np.float64)
        + pair
        + vsum.astype(np.float64) @ sa
        + anum[0] * tr0
        + anum[1] * tr1
        + anum[2] * np.maximum(lpopd - 0.7, LOG_POP_FLOOR)
        + anum[3] * lpop
        + anum[4] * knn
    )
    np.testing.assert_allclose(out, twin, rtol=1e-6, atol=1e-6)  # float32 inputs
    for j in range(n_items):
        s = item_score(j, sa, anum, vsum, wsum, pair, tr0, tr1, knn, lpop, lpopd, 0.7)
        assert s == pytest.approx(out[j], rel=1e-9, abs=1e-9)
    clear_transitions(tr0, tr1, touched, n_t)
    assert not tr0.any() and not tr1.any()
