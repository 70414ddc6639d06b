"""The per-event loop of the engine as one jitted call per batch.

For each event (in order): build the user side (user id, context, last items as sequence
fields) -> optionally rank the target among observed items not yet seen by the user
(test-then-learn) -> one FM step on the positive and ``n_neg`` sampled negatives (or on a
negative for impression/skip) -> update transitions, popularity, history -> maintenance
(round-robin item-cache refresh, trending list, IVF rebuild, all on event-count
schedules) -> optionally emit the top candidates after learning. Randomness:
``counter_uniform(seed, event, q)``, so results do not depend on how events are batched.
"""

from __future__ import annotations

import math

from numba import njit

from streamrec.online.engine_ranking import item_side, prepare_user, target_rank, top_candidates
from streamrec.online.fm_event_step import fm_multi_step
from streamrec.online.hashing import counter_uniform
from streamrec.online.history import hist_append, recent_items
from streamrec.online.item_cache import refresh_item
from streamrec.online.layout import (
    C_CURSOR, C_EVENTS, C_HIST, C_NCLUST, C_OBS, C_OCC, C_READY, G_HIT_N, G_HIT_SUM,
    G_LOGSCALE, G_LOSS_N, G_LOSS_SUM, G_SCALE, HP_ADA_EPS, HP_ADAGRAD, HP_CACHE_EVERY,
    HP_CACHE_MAX, HP_CLIP_G, HP_CLIP_P, HP_COLD_CENTROID, HP_DECAY, HP_FULL_THRESHOLD,
    HP_GROWTH, HP_INTERCEPT_LR, HP_IVF_EVERY, HP_L2V, HP_L2W, HP_LR, HP_LR_MULT, HP_NCLUST,
    HP_NEG_POP, HP_NNEG, HP_NRECENT, HP_TREND_EVERY,
)
from streamrec.online.neighbours import ss_add
from streamrec.online.popularity import decayed_add, top_items
from streamrec.online.retrieval import ivf_build, ivf_link
from streamrec.online.scoring import clear_transitions


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
def record_event(u, j, label, n_items, fm, it, us, hs, oc, ivf, sc, cnt, hp):
    """After learning: transitions from the user's recent items to ``j`` (weights
    ``decay^p``), popularity (cumulative, decayed), occurrence ring and history for a
    positive; every event marks ``j`` observed (and links it into its IVF bucket)."""
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
        it.dirty[cnt[C_OBS]] = True  # obs_list row C_OBS, not item row j
        cnt[C_OBS] += 1
        if cnt[C_NCLUST] > 0 and it.cluster[j] < 0:
            ivf_link(j, it, ivf, cnt[C_NCLUST])
    it.dirty[j] = True
    cnt[C_EVENTS] += 1


@njit(cache=True)
def maintain(n_items, fm, it, ivf, cnt, hp, seed):
    """Event-count schedules: refresh a few item caches round-robin, recompute the
    trending list, (re)build the IVF buckets when the catalog is large."""
    ev = cnt[C_EVENTS]
    if hp[HP_CACHE_EVERY] > 0 and n_items > 0:
        n_ref = min(max(n_items // int(hp[HP_CACHE_EVERY]), 1), int(hp[HP_CACHE_MAX]), n_items)
        for _ in range(n_ref):
            q = cnt[C_CURSOR] % n_items
            refresh_item(q, fm.w, fm.v, it.feats, it.nf, it.vsum, it.wsum, it.pair, it.vsum_t)
            it.dirty[q] = True
            cnt[C_CURSOR] = q + 1
    if hp[HP_TREND_EVERY] > 0 and ev % int(hp[HP_TREND_EVERY]) == 0:
        n_tr = top_items(it.popd, n_items, ivf.trend.shape[0], ivf.trend)
        ivf.trend[n_tr:] = -1
    if n_items > hp[HP_FULL_THRESHOLD] and (cnt[C_NCLUST] == 0 or ev % int(hp[HP_IVF_EVERY]) == 0):
        n_c = int(hp[HP_NCLUST])
        if n_c <= 0:
            n_c = min(max(int(math.sqrt(n_items) / 2), 8), ivf.centroids.shape[0])
        ivf_build(it, ivf, cnt, n_c, seed, 4)


@njit(cache=True)
def run_batch(ev_user, ev_item, ev_label, ev_nitems, ctx_ptr, ctx_rows, ev_eval, rank_before,
              n_top, fm, it, us, hs, oc, ivf, sc, cnt, hp, seed,
              out_rank, out_idx, out_score, out_learned, out_loss):
    """Process a batch of encoded events in order (see module docstring).

    ``ev_nitems[i]``: catalog size when event ``i`` arrives (items created while encoding
    later events do not exist yet for event ``i``).
    """
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
        lr = hp[HP_LR] * hp[HP_LR_MULT]
        loss = learn_event(j, label, n_user, fm, it, oc, sc, cnt, hp, seed, logscale, lr)
        out_loss[i] = loss
        if loss >= 0.0:
            fm.glob[G_LOSS_SUM] += loss
            fm.glob[G_LOSS_N] += 1.0
        clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
        record_event(u, j, label, n_items, fm, it, us, hs, oc, ivf, sc, cnt, hp)
        out_learned[i] = True
        maintain(n_items, fm, it, ivf, cnt, hp, seed)
        if n_top > 0:  # candidates after learning
            n_user, n_t, stamp, n_cand = prepare_user(u, ctx_rows, ctx_ptr[i], ctx_ptr[i + 1],
                                                      fm, it, us, hs, sc, ivf, cnt, hp)
            top_candidates(fm, it, sc, stamp, n_cand, n_items, fm.glob[G_LOGSCALE],
                           out_idx[i], out_score[i], n_top)
            clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
