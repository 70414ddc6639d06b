"""The transition-increment kernel of a shard delta against its pure-numpy twin."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.online.shard_base import transition_increments


def twin(cur_i, cur_c, b_i, b_c, n):
    """Numpy version: per changed row, ``count - base count`` of each entry (a new entry of a
    full base row counts from the base row's minimum); base rows updated."""
    cur_i, cur_c = cur_i[:n], cur_c[:n]
    rows = np.flatnonzero((cur_i != b_i[:n]).any(1) | (cur_c != b_c[:n]).any(1))
    ci, cc, pi, pc = cur_i[rows], cur_c[rows], b_i[rows], b_c[rows]
    same = (ci[:, :, None] == pi[:, None, :]) & (pi[:, None, :] >= 0)
    known = same.any(2)
    floor = np.where(pi[:, -1] >= 0, pc.min(1), 0.0)[:, None]
    inc = cc.astype(np.float64) - np.where(known, (same * pc[:, None, :]).sum(2), floor)
    sel = (ci >= 0) & (inc > 0)
    src = np.broadcast_to(rows[:, None], ci.shape)[sel]
    b_i[rows], b_c[rows] = ci, cc
    return src.astype(np.int64), ci[sel].astype(np.int64), inc[sel]


def _rows(rng, n, m, fill):
    """Rows of distinct ids (or -1 past ``fill`` entries) with counts."""
    ids = np.full((n, m), -1, np.int32)
    cnt = np.zeros((n, m), np.float32)
    for r in range(n):
        k = fill if fill is not None else rng.integers(0, m + 1)
        ids[r, :k] = rng.choice(40, size=k, replace=False)
        cnt[r, :k] = rng.integers(1, 9, size=k)
    return ids, cnt


@pytest.mark.parametrize("seed,fill", [(0, None), (1, 6), (2, 3), (3, None)])
def test_kernel_matches_twin_and_moves_the_base(seed, fill):
    rng = np.random.default_rng(seed)
    n, m = 50, 6
    b_i, b_c = _rows(rng, n, m, fill)
    cur_i, cur_c = b_i.copy(), b_c.copy()
    for r in rng.choice(n, 20, replace=False):  # grown counts, replaced (evicted) entries
        cur_c[r] += rng.integers(0, 3, size=m) * (cur_i[r] >= 0)
        if rng.random() < 0.5:
            a = rng.integers(m)
            cur_i[r, a] = 40 + rng.integers(10)
            cur_c[r, a] = b_c[r].min() + rng.integers(1, 4)
    bk_i, bk_c, bt_i, bt_c = b_i.copy(), b_c.copy(), b_i.copy(), b_c.copy()
    got = transition_increments(cur_i, cur_c, bk_i, bk_c, n - 5)
    want = twin(cur_i, cur_c, bt_i, bt_c, n - 5)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[0].size > 0
    np.testing.assert_array_equal(bk_i, bt_i)
    np.testing.assert_array_equal(bk_c, bt_c)
    np.testing.assert_array_equal(bk_i[: n - 5], cur_i[: n - 5])
    np.testing.assert_array_equal(bk_i[n - 5 :], b_i[n - 5 :])  # rows past n untouched
