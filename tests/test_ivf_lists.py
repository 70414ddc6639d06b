"""IVF bucket lists are doubly linked: forward and backward walks agree after any moves."""

from __future__ import annotations

import numpy as np
from numba import njit

from streamrec.online.engine_state import build_state, grow, initial_arrays, state_arrays
from streamrec.online.recommender import RecommenderConfig
from streamrec.online.retrieval import (
    IN_ORDER,
    IVF_ETA,
    ivf_build,
    ivf_link,
    ivf_relink,
    ivf_seed,
    ivf_unlink,
    nearest_centroid,
)


@njit(cache=True)
def _unlink(j, it, ivf):
    c = it.cluster[j]
    if c >= 0 and it.clnext[j] != IN_ORDER:
        ivf_unlink(j, it, ivf, c)
        it.cluster[j] = -1


def _state(n_items: int, seed: int):
    cfg = RecommenderConfig(k=4, n_buckets=1 << 8, knn_slots=0, seed=seed)
    st = grow(build_state(initial_arrays(cfg), cfg), cfg, "item", n_items)
    rng = np.random.default_rng(seed)
    st.items.vsum[:n_items] = rng.standard_normal((n_items, cfg.k)).astype(np.float32)
    st.ctr[0]["ready"] = n_items
    return cfg, st


def _seeded(n_items: int, seed: int, n_c: int):
    """A state of ``n_items`` random items and an IVF seeded with ``n_c`` empty buckets."""
    _cfg, st = _state(n_items, seed)
    ivf_seed(st.items, st.ivf, st.ctr, n_c, seed + 1)
    return st, st.items, st.ivf, int(st.ctr[0]["n_clusters"])


def assert_lists_consistent(st, n_items: int) -> None:
    """Every bucket walked forward and backward gives the same items: exactly those of
    ``cluster == c`` that are not in the contiguous part."""
    it, ivf = st.items, st.ivf
    n_c = int(st.ctr[0]["n_clusters"])
    for c in range(n_c):
        fwd, q = [], int(ivf.head[c])
        while q >= 0:
            fwd.append(q)
            assert len(fwd) <= n_items, "cycle in a bucket list"
            q = int(it.clnext[q])
        bwd = []
        if fwd:
            q = fwd[-1]
            while q >= 0:
                bwd.append(q)
                q = int(it.clprev[q])
        assert bwd[::-1] == fwd
        members = [j for j in range(n_items) if it.cluster[j] == c and it.clnext[j] != IN_ORDER]
        assert sorted(fwd) == members


def test_random_links_relinks_and_unlinks_keep_both_directions_consistent():
    n_items = 300
    st, it, ivf, n_c = _seeded(n_items, 3, 12)
    rng = np.random.default_rng(11)
    for step in range(6000):
        j = int(rng.integers(n_items))
        op = rng.random()
        if op < 0.2:
            if it.cluster[j] < 0:
                ivf_link(j, it, ivf, n_c)
        elif op < 0.3:
            _unlink(j, it, ivf)
        else:
            if rng.random() < 0.5:  # a new direction: the item moves to another bucket
                it.vsum[j] = rng.standard_normal(it.vsum.shape[1]).astype(np.float32)
            ivf_relink(j, it, ivf, n_c, IVF_ETA)
        if step % 1000 == 999:
            assert_lists_consistent(st, n_items)
    assert_lists_consistent(st, n_items)
    assert (it.cluster[:n_items] >= 0).sum() > n_items // 2  # the walk saw real lists


def test_backward_links_are_rebuilt_on_load_and_after_a_build():
    n_items = 200
    cfg, st = _state(n_items, seed=5)
    it, ivf = st.items, st.ivf
    ivf_seed(it, ivf, st.ctr, 8, 1)
    for j in range(n_items):
        ivf_link(j, it, ivf, int(st.ctr[0]["n_clusters"]))
    for j in range(0, n_items, 3):
        it.vsum[j] = -it.vsum[j]
        ivf_relink(j, it, ivf, int(st.ctr[0]["n_clusters"]), IVF_ETA)
    loaded = build_state(state_arrays(st, cfg), cfg)
    assert np.array_equal(loaded.items.clprev, it.clprev)
    assert_lists_consistent(loaded, n_items)
    grown = grow(loaded, cfg, "item", 4 * loaded.items.clprev.shape[0])
    assert_lists_consistent(grown, n_items)
    ivf_build(grown.items, grown.ivf, grown.ctr, 8, 1, 2)  # all in the contiguous part
    assert (grown.items.clprev == -1).all()
    for j in range(0, n_items, 7):  # then relinked ones join lists again
        grown.items.vsum[j] = -grown.items.vsum[j]
        ivf_relink(j, grown.items, grown.ivf, int(grown.ctr[0]["n_clusters"]), IVF_ETA)
    assert_lists_consistent(grown, n_items)


def test_transposed_centroids_stay_in_sync_and_give_the_plain_loops_nearest():
    n_items = 200
    st, it, ivf, n_c = _seeded(n_items, 8, 10)
    rng = np.random.default_rng(9)
    for _ in range(500):
        ivf_relink(int(rng.integers(n_items)), it, ivf, n_c, IVF_ETA)  # moves centroids
    assert np.array_equal(ivf.cent_t[:, :n_c], ivf.centroids[:n_c].T)
    for _ in range(50):
        x = rng.standard_normal(it.vsum.shape[1]).astype(np.float32)
        dots = []
        for c in range(n_c):  # the plain loop: float32 products summed in float64
            d = 0.0
            for f in range(x.shape[0]):
                d += float(x[f] * ivf.centroids[c, f])
            dots.append(d)
        assert nearest_centroid(x, ivf, n_c) == int(np.argmax(dots))
        assert np.array_equal(ivf.dots[:n_c], np.array(dots))
    ivf_build(it, ivf, st.ctr, 6, 1, 2)
    assert np.array_equal(ivf.cent_t, ivf.centroids.T)
