"""Shared pieces of the recency-weighted neighbourhood baselines (item-kNN, EASE).

* Recency query of user ``u``: its last ``n`` positive events, newest first, with
  weight ``decay ** age`` (age 0 = the newest). Repeats keep every occurrence.
* Co-occurrence ``co`` (dense, square): ``co[a, b]`` = number of users who had both ``a``
  and ``b`` (``a != b``); ``co[a, a]`` = number of users who had ``a``. It is ``X^T X`` for
  the binary user x item matrix ``X``; a user's repeat of an item changes nothing.
* Ranking: lexicographic ``(score, cumulative popularity)`` with pessimistic ties
  (:func:`replay.baselines._stream.rank_target_lex`), the protocol's tie rule.

Dense matrices cost ``n_items**2`` floats (co-occurrence in float32: 11 MB for ML-100K's
1,682 items); beyond a 2 GiB matrix (~23,000 items) they refuse with ``MemoryError``.

>>> import numpy as np
>>> m = RecencyState(); _ = m.encode([type("E", (), {"user": "a", "item": x, "is_positive": True})()
...                                   for x in "xyx"])
>>> m.co.shape[0] >= 2 and m.popularity.shape[0] >= 2
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from streamrec.replay.baselines._stream import StreamIndex, append_history, grow


@njit(cache=True)
def recent_items(u, n_max, decay, h, q_items, q_w):
    """Fill ``q_items``/``q_w`` with ``u``'s last ``n_max`` positives (newest first); returns the count."""
    e = h.head[u]
    n = 0
    w = 1.0
    while e >= 0 and n < n_max:
        q_items[n] = h.item[e]
        q_w[n] = w
        w *= decay
        n += 1
        e = h.next[e]
    return n


@njit(cache=True)
def learn_cooccurrence(u, i, co, h, stamp):
    """Add (u, i) to ``co`` before i joins u's history; False if u already had i.

    u's history may hold repeats: ``mark`` (stamped ``-stamp``, never a rank stamp) counts
    each distinct item once.
    """
    mark = h.mark
    e = h.head[u]
    while e >= 0:
        x = h.item[e]
        if x == i:
            return False
        mark[x] = -stamp
        e = h.next[e]
    e = h.head[u]
    while e >= 0:
        x = h.item[e]
        if mark[x] == -stamp:
            mark[x] = 0
            co[i, x] += 1.0
            co[x, i] += 1.0
        e = h.next[e]
    co[i, i] += 1.0
    return True


@njit(cache=True)
def add_rows(mat, q_items, q_w, nq, n_cols, scores):
    """``scores[:n_cols] += sum_a q_w[a] * mat[q_items[a], :n_cols]`` (rows beyond ``mat`` skipped)."""
    for a in range(nq):
        h = q_items[a]
        if h >= mat.shape[0]:
            continue
        w = q_w[a]
        row = mat[h]
        for j in range(min(n_cols, mat.shape[1])):
            scores[j] += w * row[j]


@njit(cache=True)
def recency_scores(u, mat, cosine, decay, q_items, q_w, n_seen, scores, h):
    """``scores[:n_seen] = sum_age decay**age * mat[h_age]`` over u's last ``len(q_items)``
    positives; ``cosine``: ``mat[a, b] / sqrt(mat[a, a] mat[b, b])`` instead of ``mat[a, b]``."""
    nq = recent_items(u, q_items.shape[0], decay, h, q_items, q_w)
    if cosine:
        for a in range(nq):
            q_w[a] /= np.sqrt(max(np.float64(mat[q_items[a], q_items[a]]), 1.0))
    scores[:n_seen] = 0.0
    add_rows(mat, q_items, q_w, nq, n_seen, scores)
    if cosine:
        for j in range(n_seen):
            if scores[j] != 0.0:
                scores[j] /= np.sqrt(np.float64(mat[j, j]))


@njit(cache=True)
def learn_positive(u, i, co, popularity, h, stamp, n_hist):
    """Learn positive (u, i): co-occurrence, popularity, history; returns the new history length."""
    learn_cooccurrence(u, i, co, h, stamp)
    popularity[i] += 1.0
    return append_history(u, i, h, n_hist)


#: Largest dense square matrix a neighbourhood model may allocate (bytes).
DENSE_BUDGET = 2 << 30


def grow_square(mat: np.ndarray, need: int) -> np.ndarray:
    """``mat`` (square) with capacity >= ``need`` on both axes (x1.25 steps), new cells 0.

    Raises ``MemoryError`` naming the catalog size when it would exceed :data:`DENSE_BUDGET`.
    """
    if mat.shape[0] >= need:
        return mat
    cap = max(need, mat.shape[0] * 5 // 4, 16)
    if cap * cap * mat.itemsize > DENSE_BUDGET:
        cap = need
    if cap * cap * mat.itemsize > DENSE_BUDGET:
        raise MemoryError(
            f"dense {need} x {need} item matrix needs "
            f"{need * need * mat.itemsize / 2**30:.1f} GiB > the "
            f"{DENSE_BUDGET / 2**30:.0f} GiB budget of the neighbourhood baselines; "
            "leave item-knn/ease out of --models for this catalog"
        )
    out = np.zeros((cap, cap), dtype=mat.dtype)
    out[: mat.shape[0], : mat.shape[1]] = mat
    return out


class RecencyState:
    """Stream index + cumulative popularity + dense co-occurrence + query scratch, grown per chunk."""

    def __init__(self, query_len: int = 20) -> None:
        self.index = StreamIndex()
        self.popularity = np.zeros(0, dtype=np.float64)
        self.scores = np.zeros(0, dtype=np.float64)
        self.co = np.zeros((0, 0), dtype=np.float32)  # counts: exact up to 2**24
        self.q_items = np.zeros(max(int(query_len), 1), dtype=np.int64)
        self.q_w = np.zeros(max(int(query_len), 1), dtype=np.float64)

    def encode(self, events: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense (users, items, positive) of a chunk; every per-item array grown to fit it."""
        users, items, positive = self.index.encode(events)
        n_items = len(self.index.item_ids)
        self.popularity = grow(self.popularity, n_items, 0.0)
        self.scores = grow(self.scores, n_items, 0.0)
        self.co = grow_square(self.co, n_items)
        return users, items, positive
