"""The per-event loop of the engine as one jitted call per batch.

For each event (in order): build the user side (user id, context, last items as sequence
fields) -> optionally rank the target among observed items not yet seen by the user
(test-then-learn) -> one FM step on the positive and ``n_neg`` sampled negatives (or on a
negative for impression/skip) -> update transitions, popularity, history -> maintenance
(round-robin item-cache refresh with IVF relinking, trending list, IVF growth, all on
event-count schedules) -> optionally emit the top candidates after learning. An event's
change of its item's attributes (``online.catalog.ItemRows``) is applied after the event is ranked
and before it is learned, so no rank sees a later event's attributes. Randomness:
``counter_uniform(seed, event, q)``, so results do not depend on how events are batched.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from streamrec.online.engine_ranking import (
    item_side,
    prepare_user,
    target_rank,
    top_candidates,
)
from streamrec.online.fm_event_step import fm_multi_step
from streamrec.online.hashing import counter_uniform
from streamrec.online.history import hist_append, recent_items
from streamrec.online.item_cache import refresh_item, write_item_rows
from streamrec.online.item_similarity import cooc_update
from streamrec.online.jit import inner_kernel, kernel
from streamrec.online.neighbours import ss_add
from streamrec.online.popularity import count_add, decayed_add, top_items
from streamrec.online.retrieval import (
    IVF_ETA,
    ivf_add_centroid,
    ivf_link,
    ivf_relink,
    ivf_seed,
)
from streamrec.online.scoring import clear_transitions


class Batch(NamedTuple):
    """Encoded events: dense user/item (-1 = skip), label, catalog size at arrival,
    context rows ``ctx_rows[ctx_ptr[i]:ctx_ptr[i+1]]``, evaluation flags."""

    user: np.ndarray
    item: np.ndarray
    label: np.ndarray
    n_items: np.ndarray
    ctx_ptr: np.ndarray
    ctx_rows: np.ndarray
    evaluate: np.ndarray


class Outputs(NamedTuple):
    """Per-event results: rank (0 = miss / not ranked), top candidates, learned, loss."""

    rank: np.ndarray
    idx: np.ndarray
    score: np.ndarray
    learned: np.ndarray
    loss: np.ndarray

    @classmethod
    def empty(cls, n: int, width: int) -> Outputs:
        """Outputs for ``n`` events with room for ``width`` candidates each."""
        return cls(
            np.zeros(n, np.int32),
            np.full((n, width), -1, np.int32),
            np.full((n, width), -np.inf),
            np.zeros(n, np.bool_),
            np.full(n, -1.0),
        )


@inner_kernel
def learn_event(j, label, n_user, st, sc, hp, logscale):
    """One step on the event's positive (or negative) example plus, for a positive,
    ``n_neg`` negatives sampled from observed items (uniform) or from recent positives
    (popularity); refreshes the touched items' caches; returns the event example's loss."""
    it, ex, c = st.items, sc.ex, st.ctr[0]
    n = item_side(j, n_user, it, sc, logscale)
    ex.ptr[0] = n_user
    ex.ptr[1] = n
    sc.ex_items[0] = j
    ex.labels[0] = label
    n_ex = np.int64(1)  # not a literal: one compiled fm_multi_step
    if label > 0.5:
        ring = st.occ.ring
        occ_n = min(c.occ, ring.shape[0])
        for q in range(min(hp.n_neg, sc.ex_items.shape[0] - 1)):
            r01 = counter_uniform(hp.seed, c.events, q)
            if hp.neg_pop and occ_n > 0:
                jn = np.int64(ring[int(r01 * occ_n)])  # int64 like j: one item_side
            elif c.obs > 0:
                jn = np.int64(it.obs_list[int(r01 * c.obs)])
            else:
                break
            if jn == j:
                continue
            n = item_side(jn, n, it, sc, logscale)
            sc.ex_items[n_ex] = jn
            ex.labels[n_ex] = 0.0
            n_ex += 1
            ex.ptr[n_ex] = n
    fm_multi_step(st.fm, hp.opt, ex, n_ex, n_user)
    fm = st.fm
    for e in range(n_ex):
        q = sc.ex_items[e]
        refresh_item(q, fm, it)
    return ex.loss[0]


@kernel()
def init_new_items(n_items, st, hp):
    """Items ``ready .. n_items-1`` enter the catalog now: optionally start the id
    embedding at the centroid of the attribute embeddings, then fill the cache row."""
    fm, it, c = st.fm, st.items, st.ctr[0]
    k = fm.v.shape[1]
    for j in range(c.ready, n_items):
        nf = it.nf[j]
        if hp.cold_centroid and nf > 1:
            r0 = it.feats[j, 0]
            for f in range(k):
                acc = 0.0
                for t in range(1, nf):
                    acc += fm.v[it.feats[j, t], f]
                fm.v[r0, f] = acc / (nf - 1)
            fm.dirty[r0] = True
        refresh_item(j, fm, it)
    c.ready = max(c.ready, n_items)


@inner_kernel
def record_event(u, j, label, n_items, st, sc, hp):
    """After learning: transitions from the user's recent items to ``j`` (weights
    ``decay^p``), item-kNN co-occurrence with the last ``knn_window`` items, popularity
    (cumulative, decayed), occurrence ring and history for a positive; every event marks
    ``j`` observed (and links it into its IVF bucket)."""
    it, hs, us, oc, c = st.items, st.hist, st.users, st.occ, st.ctr[0]
    if label > 0.5:
        wgt = 1.0
        n_all = recent_items(hs.item, hs.prev, us.head, u, sc.rec, sc.rec.shape[0], c.hist)
        n_rec = min(n_all, hp.n_recent)
        for p in range(n_rec):
            ss_add(it.nbr_item, it.nbr_cnt, sc.rec[p], j, wgt)
            it.dirty[sc.rec[p]] = True
            wgt *= hp.decay
        if it.knn_item.shape[1] > 0:
            n_w = min(n_all, hp.knn_window)
            cooc_update(it.knn_item, it.knn_cnt, sc.rec, n_w, j, n_w, hp.knn_window_decay)
            for p in range(n_w):
                it.dirty[sc.rec[p]] = True
                it.knn_touched[sc.rec[p]] = True
            it.knn_touched[j] = True
        count_add(it, j, 1.0)
        old_scale = c.scale
        c.scale = decayed_add(it.popd, old_scale, hp.growth, j, it.dirty)
        if c.scale < old_scale:  # renormalised
            for q in range(n_items):
                it.lpopd[q] = math.log(it.popd[q]) if it.popd[q] > 0.0 else -1e3
        c.logscale = math.log(c.scale)
        it.lpopd[j] = math.log(it.popd[j])
        pos = c.occ % oc.ring.shape[0]
        oc.ring[pos] = j
        oc.dirty[pos] = True
        c.occ += 1
        hs.dirty[c.hist & (hs.dirty.shape[0] - 1)] = True  # its ring slot
        c.hist = hist_append(hs.item, hs.prev, us.head, u, j, c.hist)
        us.dirty[u] = True
    if it.obs[j] == 0:
        it.obs[j] = 1
        it.obs_list[c.obs] = j
        it.dirty[c.obs] = True  # obs_list row ``obs``, not item row j
        c.obs += 1
        if c.n_clusters > 0 and it.cluster[j] < 0:
            ivf_link(j, it, st.ivf, c.n_clusters)
    it.dirty[j] = True
    c.events += 1


@inner_kernel
def maintain(n_items, st, sc, hp):
    """Event-count schedules: refresh a few item caches round-robin, refresh and relink
    ``ceil(n / ivf_every)`` items in the IVF, recompute the trending list, seed the IVF
    once the catalog is large, then add a centroid every ``ivf_every / 100`` events
    while there are fewer than ``sqrt(n)/2`` (no clustering pass: ``online.retrieval``);
    past the threshold it stops keeping ``vsum_t`` (``online.item_cache``).
    ``sc.score`` serves as the trending pass's work buffer (rewritten before every use)."""
    c, ivf = st.ctr[0], st.ivf
    ev = c.events
    if hp.cache_every > 0 and n_items > 0:
        n_ref = min(max(n_items // hp.cache_every, 1), hp.cache_max, n_items)
        fm, it = st.fm, st.items
        for _ in range(n_ref):
            q = c.cursor % n_items
            refresh_item(q, fm, it)
            c.cursor = q + 1
    if c.n_clusters > 0:  # every item relinked about every ``ivf_every`` events
        n_rl = min(-(-n_items // hp.ivf_every), n_items)
        for r in range(n_rl):
            q = (ev * n_rl + r) % n_items
            refresh_item(q, st.fm, st.items)
            ivf_relink(q, st.items, ivf, c.n_clusters, IVF_ETA)
    if hp.trend_every > 0 and ev % hp.trend_every == 0:
        n_tr = top_items(st.items.popd, n_items, ivf.trend.shape[0], ivf.trend, sc.score)
        ivf.trend[n_tr:] = -1
    if n_items > hp.full_threshold:  # retrieval from now on: stop the transposed cache
        st.items.vsum_t_live[0] = False
        n_c = hp.n_clusters
        if n_c <= 0:
            n_c = min(max(int(math.sqrt(n_items) / 2), 8), ivf.centroids.shape[0])
        if c.n_clusters == 0:
            ivf_seed(st.items, ivf, st.ctr, n_c, hp.seed)
        elif c.n_clusters < n_c and ev % max(hp.ivf_every // 100, 1) == 0:
            ivf_add_centroid(st.items, ivf, st.ctr, hp.seed)


@kernel()
def run_batch(ev, item_rows, st, sc, hp, rank_before, n_top, out):
    """Process a batch of encoded events ``ev`` in order (see module docstring).

    ``ev.n_items[i]``: catalog size when event ``i`` arrives (items created while encoding
    later events do not exist yet for event ``i``). ``item_rows``: attribute changes of
    known items in event order (entries of new items were written before the batch).
    """
    c = st.ctr[0]
    t_rows, n_rows = np.int64(0), item_rows.item.shape[0]  # not literals
    for i in range(ev.user.shape[0]):
        n_items = ev.n_items[i]
        init_new_items(n_items, st, hp)
        u = ev.user[i]
        j = ev.item[i]
        if u < 0 or j < 0:
            continue
        label = ev.label[i]
        logscale = c.logscale
        c0, c1 = ev.ctx_ptr[i], ev.ctx_ptr[i + 1]
        ranking = rank_before and ev.evaluate[i] and label > 0.5
        n_user, n_t, stamp, n_cand = prepare_user(u, ev.ctx_rows, c0, c1, st, sc, hp, ranking)
        if ranking:
            r = target_rank(j, st.items, sc, stamp, n_cand, n_items, logscale)
            out.rank[i] = r
            c.hit_n += 1.0
            if 0 < r <= 10:
                c.hit_sum += 1.0
        while t_rows < n_rows and item_rows.event[t_rows] <= i:  # this event's attributes
            if not item_rows.new[t_rows]:
                write_item_rows(item_rows, t_rows, st.fm, st.items)
            t_rows += 1
        loss = learn_event(j, label, n_user, st, sc, hp, logscale)
        out.loss[i] = loss
        if loss >= 0.0:
            c.loss_sum += loss
            c.loss_n += 1.0
        clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
        record_event(u, j, label, n_items, st, sc, hp)
        out.learned[i] = True
        maintain(n_items, st, sc, hp)
        if n_top > 0:  # candidates after learning
            n_user, n_t, stamp, n_cand = prepare_user(
                u, ev.ctx_rows, c0, c1, st, sc, hp, n_top > 0
            )  # a bool, not a literal True: Numba compiles one version per literal
            top_candidates(
                st.items,
                sc,
                stamp,
                n_cand,
                n_items,
                c.logscale,
                out.idx[i],
                out.score[i],
                n_top,
            )
            clear_transitions(sc.tr0, sc.tr1, sc.touched, n_t)
