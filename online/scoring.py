"""Candidate scoring kernels: user side once, then one cheap pass over the items.

With the user's group sum ``s_A`` and ``a_n = w_n + <s_A, v_n>`` for each numeric row::

    score_j = wsum_j + pair_j + <s_A, vsum_j> + sum_n a_n x_nj

(the FM logit minus the user-only terms, see ``online.item_cache``). Numeric inputs:
``x_0 = sqrt(count(last -> j))``, ``x_1 = sqrt(sum_{p>=1} decay^p count(prev_p -> j))``
(sqrt: as compressive as needed and ~5x cheaper than log1p in the scatter loop),
``x_2 = max(log(decayed pop_j), floor)``, ``x_3 = log1p(pop_j)``, ``x_4 = knn_u(j)`` (recency
item-kNN, ``online.item_similarity``; zero when it is off).
"""

from __future__ import annotations

import math

from streamrec.online.jit import kernel
from streamrec.online.neighbours import ss_scatter

# numeric item-side features (reserved FM rows 0..N_NUM-1, see ``online.hashing.N_RESERVED``)
NUM_TRANS_LAST, NUM_TRANS_OLDER, NUM_POP_DECAYED, NUM_POP_CUM, NUM_KNN = 0, 1, 2, 3, 4
N_NUM = 5
LOG_POP_FLOOR = -3.0  # log of the smallest decayed count used as a feature


@kernel()
def user_vector(v, w, rows, n_user, sa, anum):
    """``sa = sum of the user-side rows' v``; ``anum[n] = w_n + <sa, v_n>``."""
    k = v.shape[1]
    sa[:] = 0.0
    for t in range(n_user):
        r = rows[t]
        for f in range(k):
            sa[f] += v[r, f]
    for q in range(N_NUM):
        a = float(w[q])
        for f in range(k):
            a += sa[f] * v[q, f]
        anum[q] = a


@kernel(inline="always")
def scatter_transitions(nbr_item, nbr_cnt, rec, n_rec, decay, tr0, tr1, touched):
    """Fill ``tr0``/``tr1`` with the (sqrt) transition features of every neighbour of the
    user's recent items; returns the number of (distinct) touched items."""
    n_t = 0
    if n_rec > 0:
        n_t = ss_scatter(nbr_item, nbr_cnt, rec[0], 1.0, tr0, touched, 0)
    wgt = 1.0
    for p in range(1, n_rec):
        wgt *= decay
        i = rec[p]
        for m in range(nbr_item.shape[1]):
            j = nbr_item[i, m]
            if j < 0:
                break
            if tr0[j] == 0.0 and tr1[j] == 0.0:
                touched[n_t] = j
                n_t += 1
            tr1[j] += wgt * nbr_cnt[i, m]
    for t in range(n_t):
        j = touched[t]
        tr0[j] = math.sqrt(tr0[j])
        tr1[j] = math.sqrt(tr1[j])
    return n_t


@kernel()
def clear_transitions(tr0, tr1, touched, n_t):
    """Reset the entries written by ``scatter_transitions``."""
    for t in range(n_t):
        j = touched[t]
        tr0[j] = 0.0
        tr1[j] = 0.0


@kernel()
def numeric_value(q, j, tr0, tr1, knn, lpop, lpopd, logscale):
    """Value of numeric feature ``q`` for item ``j`` (after ``scatter_transitions`` and
    ``item_similarity.knn_features``)."""
    if q == 0:
        return tr0[j]
    if q == 1:
        return tr1[j]
    if q == NUM_POP_DECAYED:
        return max(lpopd[j] - logscale, LOG_POP_FLOOR)
    if q == NUM_KNN:
        return knn[j]
    return lpop[j]


@kernel()
def item_score(j, sa, anum, vsum, wsum, pair, tr0, tr1, knn, lpop, lpopd, logscale):
    """Ranking score of item ``j`` (FM logit up to user-only terms)."""
    k = sa.shape[0]
    s = float(wsum[j]) + pair[j]
    for f in range(k):
        s += sa[f] * vsum[j, f]
    s += anum[0] * tr0[j] + anum[1] * tr1[j]
    s += anum[NUM_POP_DECAYED] * max(lpopd[j] - logscale, LOG_POP_FLOOR)
    s += anum[NUM_POP_CUM] * lpop[j] + anum[NUM_KNN] * knn[j]
    return s


@kernel(fastmath={"contract"})
def score_all(
    n,
    sa,
    anum,
    vsum_t,
    wsum,
    pair,
    lpop,
    lpopd,
    logscale,
    tr0,
    tr1,
    knn,
    touched,
    n_touched,
    out,
):
    """``out[j] = score_j`` for ``j < n`` in passes vectorised over items (same value as
    ``item_score`` up to summation order): the item-only terms, then ``<s_A, vsum_j>`` four
    factors per pass (one load and store of ``out`` per four factors, fused multiply-adds;
    ~1.6x faster than a pass per factor), then the transition terms of the touched items."""
    a2 = anum[NUM_POP_DECAYED]
    a3 = anum[NUM_POP_CUM]
    a4 = anum[NUM_KNN]
    for j in range(n):
        out[j] = float(wsum[j]) + pair[j] + a3 * lpop[j] + a2 * max(lpopd[j] - logscale, LOG_POP_FLOOR) + a4 * knn[j]
    k = sa.shape[0]
    f = 0
    while f + 4 <= k:
        c0, c1, c2, c3 = sa[f], sa[f + 1], sa[f + 2], sa[f + 3]
        r0, r1, r2, r3 = vsum_t[f], vsum_t[f + 1], vsum_t[f + 2], vsum_t[f + 3]
        for j in range(n):
            out[j] += (c0 * r0[j] + c1 * r1[j]) + (c2 * r2[j] + c3 * r3[j])
        f += 4
    for g in range(f, k):
        c, row = sa[g], vsum_t[g]
        for j in range(n):
            out[j] += c * row[j]
    for t in range(n_touched):
        j = touched[t]
        out[j] += anum[0] * tr0[j] + anum[1] * tr1[j]
