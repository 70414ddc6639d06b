"""Per-request kernels shared by learning and serving: features and candidate ranking.

``user_side``/``item_side`` lay out one example's active rows (groups A / B, C);
``prepare_user`` computes the user vector, the transition features of the user's recent
items and the seen-item marks once per request; ``target_rank`` (pessimistic rank of the
target among observed unseen items) and ``top_candidates`` score either the whole
catalog (``score_all``, vectorised) or the retrieved candidates (``item_score``).
"""

from __future__ import annotations

import numpy as np

from streamrec.online.fm_kernels import G_ITEM, G_NUM, G_USER, fm_logit
from streamrec.online.hashing import seq_row
from streamrec.online.history import mark_seen, recent_items
from streamrec.online.item_cache import sync_vsum_t
from streamrec.online.item_similarity import knn_features, knn_fill
from streamrec.online.jit import inner_kernel, kernel
from streamrec.online.retrieval import gather_candidates
from streamrec.online.scoring import (
    LOG_POP_FLOOR,
    N_NUM,
    NUM_KNN,
    NUM_POP_DECAYED,
    clear_transitions,
    item_score,
    numeric_value,
    scatter_transitions,
    score_all,
    user_vector,
)
from streamrec.online.topk import topk_insert


@kernel(inline="always")
def user_side(u, ctx_rows, c0, c1, st, sc, hp):
    """Write the user-side rows into ``sc.ex`` and recent items into ``sc.rec``;
    returns ``(n_user_rows, n_recent)`` (``n_recent``: all items written to ``sc.rec``)."""
    hs, ex = st.hist, sc.ex
    n_rec = recent_items(hs.item, hs.prev, st.users.head, u, sc.rec, sc.rec.shape[0], st.ctr[0].hist)
    n = 0
    for c in range(c0, c1):
        if n < 64:
            ex.rows[n] = ctx_rows[c]
            ex.xs[n] = 1.0
            ex.grp[n] = G_USER
            n += 1
    n_rows = st.fm.w.shape[0]
    for p in range(min(hp.n_seq, n_rec)):
        ex.rows[n] = seq_row(st.items.key[sc.rec[p]], p, n_rows)
        ex.xs[n] = 1.0
        ex.grp[n] = G_USER
        n += 1
    return n, n_rec


@kernel(inline="always")
def item_side(j, n0, it, sc, logscale):
    """Append item ``j``'s static and numeric rows after position ``n0``; returns the end."""
    n = n0
    ex = sc.ex
    knn_fill(j, it, sc.knn, sc.rec)  # the request deferred knn_u: look up j's
    for t in range(it.nf[j]):
        ex.rows[n] = it.feats[j, t]
        ex.xs[n] = 1.0
        ex.grp[n] = G_ITEM
        n += 1
    for q in range(N_NUM):
        x = numeric_value(q, j, sc.tr0, sc.tr1, sc.knn.x, it.lpop, it.lpopd, logscale)
        if x != 0.0:
            ex.rows[n] = q
            ex.xs[n] = x
            ex.grp[n] = G_NUM
            n += 1
    return n


@inner_kernel
def prepare_user(u, ctx_rows, c0, c1, st, sc, hp, gather):
    """User side + user vector + transition and item-kNN features + seen marks; returns
    ``(n_user_rows, n_touched, stamp, n_cand)`` with candidates in ``sc.cand``
    (``n_cand = -1`` means: score the whole catalog). With ``gather=False`` only the
    user side and the transition features are prepared (enough to learn); ``knn_u`` is
    then looked up per item by ``item_side``. Callers pass
    ``gather`` as a bool value, never a literal (each literal compiles a version)."""
    it, c = st.items, st.ctr[0]
    n_user, n_rec = user_side(u, ctx_rows, c0, c1, st, sc, hp)
    user_vector(st.fm.v, st.fm.w, sc.ex.rows, n_user, sc.sa, sc.anum)
    n_t = scatter_transitions(
        it.nbr_item,
        it.nbr_cnt,
        sc.rec,
        min(n_rec, hp.n_recent),
        hp.decay,
        sc.tr0,
        sc.tr1,
        sc.touched,
    )
    dense_n = c.ready if c.ready <= hp.full_threshold else -1
    n_kr = min(n_rec, hp.knn_recent)
    n_t = knn_features(
        it, sc.knn, sc.rec, n_kr, hp.knn_decay, dense_n, sc.tr0, sc.tr1, sc.touched, n_t, not gather, hp.knn_cand
    )
    sc.anum[NUM_KNN] += hp.knn_prior  # ranking only: FM logits come from the rows
    sc.anum[NUM_POP_DECAYED] += hp.pop_prior
    sc.n_touched[0] = n_t
    n_cand = -1
    stamp = -1
    if not gather:
        return n_user, n_t, stamp, n_cand
    c.stamp += 1
    stamp = c.stamp
    mark_seen(st.hist.item, st.hist.prev, st.users.head, u, sc.mark, stamp, c.hist)
    if c.ready > hp.full_threshold:
        n_cand = gather_candidates(sc, st.ivf, it, n_t, hp.n_probe, stamp, c.n_clusters, hp.ivf_max)
    return n_user, n_t, stamp, n_cand


@kernel(inline="always")
def score_catalog(it, sc, n_items, logscale):
    """``sc.score[j]`` for every item ``j < n_items`` (:func:`score_all` over the bundles)."""
    sync_vsum_t(it, n_items)
    score_all(
        n_items,
        sc.sa,
        sc.anum,
        it.vsum_t,
        it.wsum,
        it.pair,
        it.lpop,
        it.lpopd,
        logscale,
        sc.tr0,
        sc.tr1,
        sc.knn.x,
        sc.touched,
        sc.n_touched[0],
        sc.score,
    )


@kernel(inline="always")
def candidate_score(q, it, sc, logscale):
    """Score of one candidate ``q`` (:func:`item_score` over the bundles)."""
    return item_score(
        q, sc.sa, sc.anum, it.vsum, it.wsum, it.pair, sc.tr0, sc.tr1, sc.knn.x, it.lpop, it.lpopd, logscale
    )


@inner_kernel
def target_rank(j, it, sc, stamp, n_cand, n_items, logscale):
    """1-based pessimistic rank of ``j`` among observed unseen items (0 = miss)."""
    if it.obs[j] == 0 or sc.mark[j] == stamp:
        return 0
    if n_cand < 0:
        score_catalog(it, sc, n_items, logscale)
        st = sc.score[j]
        above = 0
        for q in range(n_items):  # branch-free so that it vectorises
            above += (sc.score[q] >= st) & (it.obs[q] != 0) & (sc.mark[q] != stamp)
        return above  # counts j itself
    st = candidate_score(j, it, sc, logscale)
    above = 0
    found = False
    for c in range(n_cand):
        q = np.int64(sc.cand[c])  # int64 like j: one item_score
        if q == j:
            found = True
            continue
        if it.obs[q] == 0 or sc.mark[q] == stamp:
            continue
        if candidate_score(q, it, sc, logscale) >= st:
            above += 1
    return above + 1 if found else 0


@inner_kernel
def top_candidates(it, sc, stamp, n_cand, n_items, logscale, out_idx, out_score, k):
    """Top-``k`` known items not seen by the user (``n_cand < 0``: whole catalog)."""
    n_out = np.int64(0)  # not a literal 0: one compiled topk_insert
    if n_cand < 0:
        score_catalog(it, sc, n_items, logscale)
        for q in range(n_items):
            if sc.mark[q] != stamp:
                n_out = topk_insert(q, sc.score[q], out_idx, out_score, n_out, k)
        return n_out
    for c in range(n_cand):
        q = np.int64(sc.cand[c])  # int64 like the full-catalog loop: one topk_insert
        if sc.mark[q] == stamp:
            continue
        s = candidate_score(q, it, sc, logscale)
        n_out = topk_insert(q, s, out_idx, out_score, n_out, k)
    return n_out


@kernel()
def rank_query(u, ctx_rows, exclude_seen, st, sc, hp, out_idx, out_score, k):
    """Top-``k`` items for user ``u`` (-1 = unknown) with context rows; returns the count."""
    _n_user, n_t, stamp, n_cand = prepare_user(
        u, ctx_rows, np.int64(0), ctx_rows.shape[0], st, sc, hp, k >= 0
    )  # a bool, not a literal True: Numba compiles one version per literal
    c = st.ctr[0]
    if not exclude_seen:
        c.stamp += 1
        stamp = c.stamp
    n = top_candidates(st.items, sc, stamp, n_cand, c.ready, c.logscale, out_idx, out_score, k)
    clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
    return n


@kernel()
def predict_logit(u, ctx_rows, j, item_rows, st, sc, hp):
    """Exact FM logit for user ``u`` and item ``j`` (or, if ``j < 0``, an unknown item
    with static rows ``item_rows``)."""
    n_user, n_t, _stamp, _n_cand = prepare_user(
        u, ctx_rows, np.int64(0), ctx_rows.shape[0], st, sc, hp, ctx_rows.shape[0] < 0
    )  # gather=False as a bool, not a literal (one compiled version)
    ex = sc.ex
    if j >= 0:
        n = item_side(j, n_user, st.items, sc, st.ctr[0].logscale)
    else:
        n = n_user
        for t in range(item_rows.shape[0]):
            ex.rows[n] = item_rows[t]
            ex.xs[n] = 1.0
            ex.grp[n] = G_ITEM
            n += 1
        ex.rows[n] = NUM_POP_DECAYED
        ex.xs[n] = LOG_POP_FLOOR
        ex.grp[n] = G_NUM
        n += 1
    fm = st.fm
    logit = fm_logit(fm.w0[0], fm.w, fm.v, ex.rows, ex.xs, ex.grp, n, ex.s)
    clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
    return logit
