"""The per-event loop of the engine as one jitted call per batch.

For each event (in order): build the user side (user id, context, last items as sequence
fields) -> optionally rank the target among observed items not yet seen by the user
(test-then-learn) -> SGD on the positive and ``n_neg`` sampled negatives (or on a
negative for impression/skip) -> update transitions, popularity, history -> optionally
emit the top candidates after learning. Randomness: ``counter_uniform(seed, event, q)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from online.fm_kernels import G_ITEM, G_NUM, G_USER, fm_logit, fm_multi_step
from online.hashing import counter_uniform, seq_row
from online.history import hist_append, mark_seen, recent_items
from online.item_cache import refresh_item
from online.layout import (
    C_CURSOR, C_EVENTS, C_HIST, C_ITEMS, C_NCLUST, C_OBS, C_OCC, C_READY, C_STAMP, G_HIT_N, G_HIT_SUM, G_LOGSCALE,
    G_LOSS_N, G_LOSS_SUM, G_SCALE, G_W0, HP_ADA_EPS, HP_ADAGRAD, HP_CACHE_EVERY, HP_CACHE_MAX, HP_IVF_MAX, HP_COLD_CENTROID, HP_CLIP_G,
    HP_CLIP_P, HP_DECAY, HP_FULL_THRESHOLD, HP_GROWTH, HP_INTERCEPT_LR, HP_L2V, HP_L2W, HP_LR,
    HP_LR_MULT, HP_IVF_EVERY, HP_NCLUST, HP_NEG_POP, HP_NNEG, HP_NPROBE, HP_NRECENT, HP_NSEQ, HP_TREND_EVERY, LOG_POP_FLOOR, N_NUM, NUM_POP_DECAYED,
)
from online.neighbours import ss_add
from online.popularity import decayed_add, top_items
from online.retrieval import gather_candidates, ivf_build, ivf_link
from online.scoring import (
    clear_transitions, item_score, numeric_value, scatter_transitions, score_all, topk_insert,
    user_vector,
)


@njit(cache=True)
def user_side(u, ctx_rows, c0, c1, it, us, hs, sc, hp, n_rows):
    """Write the user-side rows into ``sc.rows`` and recent items into ``sc.rec``;
    returns ``(n_user_rows, n_recent)``."""
    n_rec = recent_items(hs.item, hs.prev, us.head, u, sc.rec, sc.rec.shape[0])
    n = 0
    for c in range(c0, c1):
        if n < 64:
            sc.rows[n] = ctx_rows[c]
            sc.xs[n] = 1.0
            sc.grp[n] = G_USER
            n += 1
    for p in range(min(int(hp[HP_NSEQ]), n_rec)):
        sc.rows[n] = seq_row(it.key[sc.rec[p]], p, n_rows)
        sc.xs[n] = 1.0
        sc.grp[n] = G_USER
        n += 1
    return n, min(n_rec, int(hp[HP_NRECENT]))


@njit(cache=True)
def item_side(j, n0, it, sc, logscale):
    """Append item ``j``'s static and numeric rows after position ``n0``; returns the end."""
    n = n0
    for t in range(it.nf[j]):
        sc.rows[n] = it.feats[j, t]
        sc.xs[n] = 1.0
        sc.grp[n] = G_ITEM
        n += 1
    for q in range(N_NUM):
        x = numeric_value(q, j, sc.tr0, sc.tr1, it.lpop, it.lpopd, logscale)
        if x != 0.0:
            sc.rows[n] = q
            sc.xs[n] = x
            sc.grp[n] = G_NUM
            n += 1
    return n


@njit(cache=True)
def learn_event(j, label, n_user, fm, it, oc, sc, cnt, hp, seed, logscale, lr):
    """One step on the event's positive (or negative) example plus, for a positive,
    ``n_neg`` negatives sampled from observed items (uniform) or from recent positives
    (popularity); refreshes the touched items' caches; returns the event example's loss."""
    n = item_side(j, n_user, it, sc, logscale)
    sc.ex_ptr[0] = n_user
    sc.ex_ptr[1] = n
    sc.ex_items[0] = j
    sc.ex_labels[0] = label
    n_ex = 1
    if label > 0.5:
        n_obs = cnt[C_OBS]
        occ_n = min(cnt[C_OCC], oc.ring.shape[0])
        for q in range(min(int(hp[HP_NNEG]), sc.ex_items.shape[0] - 1)):
            r01 = counter_uniform(seed, cnt[C_EVENTS], q)
            if hp[HP_NEG_POP] > 0.5 and occ_n > 0:
                jn = oc.ring[int(r01 * occ_n)]
            elif n_obs > 0:
                jn = it.obs_list[int(r01 * n_obs)]
            else:
                break
            if jn == j:
                continue
            n = item_side(jn, n, it, sc, logscale)
            sc.ex_items[n_ex] = jn
            sc.ex_labels[n_ex] = 0.0
            n_ex += 1
            sc.ex_ptr[n_ex] = n
    fm_multi_step(sc.ex_labels, n_ex, sc.ex_ptr, sc.rows, sc.xs, sc.grp, n_user, fm.glob, fm.w,
                  fm.v, fm.gw, fm.gv, sc.s, lr, hp[HP_L2W], hp[HP_L2V], hp[HP_ADAGRAD] > 0.5,
                  hp[HP_ADA_EPS], hp[HP_INTERCEPT_LR], hp[HP_CLIP_G], hp[HP_CLIP_P], fm.dirty,
                  sc.ex_loss)
    for e in range(n_ex):
        q = sc.ex_items[e]
        refresh_item(q, fm.w, fm.v, it.feats, it.nf, it.vsum, it.wsum, it.pair, it.vsum_t)
        it.dirty[q] = True
    return sc.ex_loss[0]


@njit(cache=True)
def prepare_user(u, ctx_rows, c0, c1, fm, it, us, hs, sc, ivf, cnt, hp, gather=True):
    """User side + user vector + transition scatter + seen marks; returns
    ``(n_user_rows, n_touched, stamp, n_cand)`` with candidates in ``sc.cand``
    (``n_cand = -1`` means: score the whole catalog). With ``gather=False`` only the
    user side and the transition features are prepared (enough to learn)."""
    n_user, n_rec = user_side(u, ctx_rows, c0, c1, it, us, hs, sc, hp, fm.w.shape[0])
    user_vector(fm.v, fm.w, sc.rows, n_user, sc.sa, sc.anum)
    n_t = scatter_transitions(it.nbr_item, it.nbr_cnt, sc.rec, n_rec, hp[HP_DECAY],
                              sc.tr0, sc.tr1, sc.touched)
    sc.n_touched[0] = n_t
    n_cand = -1
    stamp = -1
    if not gather:
        return n_user, n_t, stamp, n_cand
    cnt[C_STAMP] += 1
    stamp = cnt[C_STAMP]
    mark_seen(hs.item, hs.prev, us.head, u, sc.mark, stamp)
    if cnt[C_READY] > hp[HP_FULL_THRESHOLD]:
        n_cand = gather_candidates(sc, ivf, it, n_t, int(hp[HP_NPROBE]), stamp, cnt[C_NCLUST],
                                   int(hp[HP_IVF_MAX]))
    return n_user, n_t, stamp, n_cand


@njit(cache=True)
def target_rank(j, fm, it, sc, stamp, n_cand, n_items, logscale):
    """1-based pessimistic rank of ``j`` among observed unseen items (0 = miss)."""
    if it.obs[j] == 0 or sc.mark[j] == stamp:
        return 0
    if n_cand < 0:
        score_all(n_items, sc.sa, sc.anum, it.vsum_t, it.wsum, it.pair, it.lpop, it.lpopd,
                  logscale, sc.tr0, sc.tr1, sc.touched, sc.n_touched[0], sc.score)
        st = sc.score[j]
        above = 0
        for q in range(n_items):  # branch-free so that it vectorises
            above += (sc.score[q] >= st) & (it.obs[q] != 0) & (sc.mark[q] != stamp)
        return above  # counts j itself
    st = item_score(j, sc.sa, sc.anum, it.vsum, it.wsum, it.pair, sc.tr0, sc.tr1, it.lpop,
                    it.lpopd, logscale)
    above = 0
    found = False
    for c in range(n_cand):
        q = sc.cand[c]
        if q == j:
            found = True
            continue
        if it.obs[q] == 0 or sc.mark[q] == stamp:
            continue
        if item_score(q, sc.sa, sc.anum, it.vsum, it.wsum, it.pair, sc.tr0, sc.tr1, it.lpop,
                      it.lpopd, logscale) >= st:
            above += 1
    return above + 1 if found else 0


@njit(cache=True)
def top_candidates(fm, it, sc, stamp, n_cand, n_items, logscale, out_idx, out_score, k):
    """Top-``k`` known items not seen by the user (``n_cand < 0``: whole catalog)."""
    n_out = 0
    if n_cand < 0:
        score_all(n_items, sc.sa, sc.anum, it.vsum_t, it.wsum, it.pair, it.lpop, it.lpopd,
                  logscale, sc.tr0, sc.tr1, sc.touched, sc.n_touched[0], sc.score)
        for q in range(n_items):
            if sc.mark[q] != stamp:
                n_out = topk_insert(q, sc.score[q], out_idx, out_score, n_out, k)
        return n_out
    for c in range(n_cand):
        q = sc.cand[c]
        if sc.mark[q] == stamp:
            continue
        s = item_score(q, sc.sa, sc.anum, it.vsum, it.wsum, it.pair, sc.tr0, sc.tr1, it.lpop,
                       it.lpopd, logscale)
        n_out = topk_insert(q, s, out_idx, out_score, n_out, k)
    return n_out


@njit(cache=True)
def init_new_items(n_items, fm, it, cnt, hp):
    """Items ``cnt[C_READY] .. n_items-1`` enter the catalog now: optionally start the id
    embedding at the centroid of the attribute embeddings, then fill the cache row."""
    k = fm.v.shape[1]
    for j in range(cnt[C_READY], n_items):
        nf = it.nf[j]
        if hp[HP_COLD_CENTROID] > 0.5 and nf > 1:
            r0 = it.feats[j, 0]
            for f in range(k):
                acc = 0.0
                for t in range(1, nf):
                    acc += fm.v[it.feats[j, t], f]
                fm.v[r0, f] = acc / (nf - 1)
            fm.dirty[r0] = True
        refresh_item(j, fm.w, fm.v, it.feats, it.nf, it.vsum, it.wsum, it.pair, it.vsum_t)
        it.dirty[j] = True
    if n_items > cnt[C_READY]:
        cnt[C_READY] = n_items


@njit(cache=True)
def run_batch(ev_user, ev_item, ev_label, ev_nitems, ctx_ptr, ctx_rows, ev_eval, rank_before, n_top,
              fm, it, us, hs, oc, ivf, sc, cnt, hp, seed,
              out_rank, out_idx, out_score, out_learned, out_loss):
    """Process a batch of encoded events in order (see module docstring)."""
    n_rows = fm.w.shape[0]
    for i in range(ev_user.shape[0]):
        n_items = ev_nitems[i]
        init_new_items(n_items, fm, it, cnt, hp)
        u = ev_user[i]
        j = ev_item[i]
        if u < 0 or j < 0:
            continue
        label = ev_label[i]
        logscale = fm.glob[G_LOGSCALE]
        ranking = rank_before and ev_eval[i] and label > 0.5
        n_user, n_t, stamp, n_cand = prepare_user(u, ctx_rows, ctx_ptr[i], ctx_ptr[i + 1],
                                                  fm, it, us, hs, sc, ivf, cnt, hp, ranking)
        if ranking:
            r = target_rank(j, fm, it, sc, stamp, n_cand, n_items, logscale)
            out_rank[i] = r
            fm.glob[G_HIT_N] += 1.0
            if 0 < r <= 10:
                fm.glob[G_HIT_SUM] += 1.0
        # --- learn
        lr = hp[HP_LR] * hp[HP_LR_MULT]
        loss = learn_event(j, label, n_user, fm, it, oc, sc, cnt, hp, seed, logscale, lr)
        out_loss[i] = loss
        if loss >= 0.0:
            fm.glob[G_LOSS_SUM] += loss
            fm.glob[G_LOSS_N] += 1.0
        clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
        # --- counts, popularity, history
        if label > 0.5:
            wgt = 1.0
            n_rec = recent_items(hs.item, hs.prev, us.head, u, sc.rec, int(hp[HP_NRECENT]))
            for p in range(n_rec):
                ss_add(it.nbr_item, it.nbr_cnt, sc.rec[p], j, wgt)
                it.dirty[sc.rec[p]] = True
                wgt *= hp[HP_DECAY]
            it.pop[j] += 1.0
            it.lpop[j] = math.log1p(it.pop[j])
            old_scale = fm.glob[G_SCALE]
            decayed_add(it.popd, fm.glob, G_SCALE, hp[HP_GROWTH], j, it.dirty)
            if fm.glob[G_SCALE] < old_scale:  # renormalised
                for q in range(n_items):
                    it.lpopd[q] = math.log(it.popd[q]) if it.popd[q] > 0.0 else -1e3
            fm.glob[G_LOGSCALE] = math.log(fm.glob[G_SCALE])
            it.lpopd[j] = math.log(it.popd[j])
            pos = cnt[C_OCC] % oc.ring.shape[0]
            oc.ring[pos] = j
            oc.dirty[pos] = True
            cnt[C_OCC] += 1
            hs.dirty[cnt[C_HIST]] = True
            cnt[C_HIST] = hist_append(hs.item, hs.prev, us.head, u, j, cnt[C_HIST])
            us.dirty[u] = True
        if it.obs[j] == 0:
            it.obs[j] = 1
            it.obs_list[cnt[C_OBS]] = j
            cnt[C_OBS] += 1
            if cnt[C_NCLUST] > 0 and it.cluster[j] < 0:
                ivf_link(j, it, ivf, cnt[C_NCLUST])
        it.dirty[j] = True
        out_learned[i] = True
        cnt[C_EVENTS] += 1
        ev = cnt[C_EVENTS]
        if hp[HP_CACHE_EVERY] > 0 and n_items > 0:  # round-robin cache refresh
            n_ref = min(max(n_items // int(hp[HP_CACHE_EVERY]), 1), int(hp[HP_CACHE_MAX]), n_items)
            for _ in range(n_ref):
                q = cnt[C_CURSOR] % n_items
                refresh_item(q, fm.w, fm.v, it.feats, it.nf, it.vsum, it.wsum, it.pair, it.vsum_t)
                it.dirty[q] = True
                cnt[C_CURSOR] = q + 1
        if hp[HP_TREND_EVERY] > 0 and ev % int(hp[HP_TREND_EVERY]) == 0:
            n_tr = top_items(it.popd, n_items, ivf.trend.shape[0], ivf.trend)
            ivf.trend[n_tr:] = -1
        if n_items > hp[HP_FULL_THRESHOLD] and (
                cnt[C_NCLUST] == 0 or ev % int(hp[HP_IVF_EVERY]) == 0):
            n_c = int(hp[HP_NCLUST])
            if n_c <= 0:
                n_c = min(max(int(math.sqrt(n_items) / 2), 8), ivf.centroids.shape[0])
            ivf_build(it, ivf, cnt, n_c, seed, 4)
        # --- candidates after learning
        if n_top > 0:
            n_user, n_t, stamp, n_cand = prepare_user(u, ctx_rows, ctx_ptr[i], ctx_ptr[i + 1],
                                                      fm, it, us, hs, sc, ivf, cnt, hp)
            top_candidates(fm, it, sc, stamp, n_cand, n_items, fm.glob[G_LOGSCALE],
                           out_idx[i], out_score[i], n_top)
            clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)


@njit(cache=True)
def rank_query(u, ctx_rows, exclude_seen, fm, it, us, hs, sc, ivf, cnt, hp, out_idx, out_score, k):
    """Top-``k`` items for user ``u`` (-1 = unknown) with context rows; returns the count."""
    n_user, n_t, stamp, n_cand = prepare_user(u, ctx_rows, 0, ctx_rows.shape[0], fm, it, us,
                                              hs, sc, ivf, cnt, hp)
    if not exclude_seen:
        cnt[C_STAMP] += 1
        stamp = cnt[C_STAMP]
    n = top_candidates(fm, it, sc, stamp, n_cand, cnt[C_READY], fm.glob[G_LOGSCALE],
                       out_idx, out_score, k)
    clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
    return n


@njit(cache=True)
def predict_logit(u, ctx_rows, j, item_rows, fm, it, us, hs, sc, ivf, cnt, hp):
    """Exact FM logit for user ``u`` and item ``j`` (or, if ``j < 0``, an unknown item
    with static rows ``item_rows``)."""
    n_user, n_t, stamp, n_cand = prepare_user(u, ctx_rows, 0, ctx_rows.shape[0], fm, it, us,
                                              hs, sc, ivf, cnt, hp, False)
    if j >= 0:
        n = item_side(j, n_user, it, sc, fm.glob[G_LOGSCALE])
    else:
        n = n_user
        for t in range(item_rows.shape[0]):
            sc.rows[n] = item_rows[t]
            sc.xs[n] = 1.0
            sc.grp[n] = G_ITEM
            n += 1
        sc.rows[n] = NUM_POP_DECAYED
        sc.xs[n] = LOG_POP_FLOOR
        sc.grp[n] = G_NUM
        n += 1
    logit = fm_logit(fm.glob[G_W0], fm.w, fm.v, sc.rows, sc.xs, sc.grp, n, sc.s)
    clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
    return logit
