"""Merge another shard's ``Delta`` into an engine and its ``ShardBase``.

Order: validate everything first (``check_delta`` and the float32 range of the new FM
values), then register unknown items (by id, with the sent static rows; the id rows a
cold-start centroid would overwrite are restored, since the delta carries their change),
add the FM differences (engine and base alike, so a merged change is never re-emitted),
advance the decayed-popularity clock by the origin's ``n_events`` (``scale *= growth^n``,
renormalised above 1e100), add the count increments (``popd += inc * scale``), mark items
observed, add the transitions (space-saving) and the item-kNN co-occurrences (``topm_add``),
and refresh the cache rows of every item
whose static rows use a changed FM row.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamrec.online.engine_state import EngineState
from streamrec.online.item_cache import refresh_item
from streamrec.online.item_similarity import topm_add
from streamrec.online.neighbours import ss_add
from streamrec.online.popularity import count_add
from streamrec.online.retrieval import ivf_link
from streamrec.online.shard_base import ShardBase
from streamrec.online.shard_delta import Delta, check_delta

_RENORM_AT = 1e100


@njit(cache=True)
def add_transitions(nbr_item, nbr_cnt, src, dst, wgt, dirty):
    """``ss_add`` every ``src[t] -> dst[t]`` with weight ``wgt[t]``; marks ``src`` dirty."""
    for t in range(src.shape[0]):
        ss_add(nbr_item, nbr_cnt, src[t], dst[t], wgt[t])
        dirty[src[t]] = True


@njit(cache=True)
def add_cooccurrences(knn_item, knn_cnt, src, dst, wgt, dirty):
    """``topm_add`` every ``c(src[t], dst[t]) += wgt[t]``; marks ``src`` dirty."""
    if knn_item.shape[1] == 0:
        return
    for t in range(src.shape[0]):
        topm_add(knn_item, knn_cnt, src[t], dst[t], wgt[t])
        dirty[src[t]] = True


@njit(cache=True)
def add_counts(st, idx, pop, popd, obs, scale):
    """Count increments of items ``idx``: cumulative, decayed (``popd += inc * scale``)
    and observed flags (appended to ``obs_list``, linked into the IVF)."""
    it, c = st.items, st.ctr[0]
    for t in range(idx.shape[0]):
        j = idx[t]
        if pop[t] > 0.0:
            count_add(it, j, pop[t])
        if popd[t] > 0.0:
            it.popd[j] += popd[t] * scale
        if it.popd[j] > 0.0:
            it.lpopd[j] = math.log(it.popd[j])
        if obs[t] and it.obs[j] == 0:
            it.obs[j] = 1
            it.obs_list[c.obs] = j
            it.dirty[c.obs] = True
            c.obs += 1
            if c.n_clusters > 0 and it.cluster[j] < 0:
                ivf_link(j, it, st.ivf, c.n_clusters)
        it.dirty[j] = True


@njit(cache=True)
def refresh_using(fm, it, rowmask, n_items):
    """Refresh the cache row of every item among ``0..n_items-1`` with a static row in
    ``rowmask``."""
    for j in range(n_items):
        for t in range(it.nf[j]):
            if rowmask[it.feats[j, t]]:
                refresh_item(j, fm, it)
                break


def _new_fm(fm, base: ShardBase, d: Delta, clip_p: float) -> list:
    r = d.fm_rows
    out = []
    for live, copy, diff, bound in (
        (fm.w, base.w, d.fm_w, clip_p),
        (fm.gw, base.gw, d.fm_gw, 3e38),
        (fm.v, base.v, d.fm_v, clip_p),
        (fm.gv, base.gv, d.fm_gv, 3e38),
    ):
        a = np.clip(live[r] + diff, -bound, bound).astype(np.float32)
        b = np.clip(copy[r] + diff, -bound, bound).astype(np.float32)
        out.append((live, a, copy, b))
    return out


def _register(rec, d: Delta) -> np.ndarray:
    """Dense indices of ``d.items`` on ``rec`` (unknown items created)."""
    cat, ptr = rec.catalog, d.feat_ptr
    rows = {int(d.feat_item[t]): d.feat_rows[ptr[t] : ptr[t + 1]].tolist() for t in range(d.feat_item.shape[0])}
    new = [p for p, s in enumerate(d.items) if s not in cat.items]
    for p in new:
        cat.set_item_rows(d.items[p], rows.get(p) or cat.item_rows(d.items[p], None))
    for p, r in rows.items():
        cat.set_item_rows(d.items[p], r)
    guarded = np.asarray(
        [cat.item_rows(d.items[p], None)[0] for p in new] + [r[0] for r in rows.values()],
        np.int64,
    )
    v = rec.state.fm.v
    saved = v[guarded].copy()
    rec.apply_item_rows()
    rec.state.fm.v[guarded] = saved
    return np.asarray([cat.items[s] for s in d.items], np.int64)


def merge_into(rec, base: ShardBase, d: Delta, growth: float) -> None:
    """Apply ``d`` to the engine ``rec`` and its ``base`` (raises ``ValueError`` on a
    malformed delta before changing anything)."""
    cfg = rec.config
    check_delta(d, cfg.k, cfg.n_buckets, cfg.max_item_features)
    fm_new = _new_fm(rec.state.fm, base, d, float(cfg.clip_param))
    idx = _register(rec, d)
    st: EngineState = rec.state
    for live, a, copy, b in fm_new:
        live[d.fm_rows], copy[d.fm_rows] = a, b
    st.fm.dirty[d.fm_rows] = True
    st.fm.w0[0] = float(np.clip(st.fm.w0[0] + d.w0, -cfg.clip_param, cfg.clip_param))
    base.w0 += d.w0
    n = len(rec.catalog.item_ids)
    base.fit(n)
    bi, it, c = base.items, st.items, st.ctr[0]
    step = d.n_events * math.log(growth)
    log_scale = math.log(c["scale"]) + step
    if log_scale > math.log(_RENORM_AT):  # renormalise: scale -> 1
        factor = math.exp(-log_scale)
        it.popd[:n] *= factor
        bi["popd"] *= factor
        base.scale = math.exp(math.log(base.scale) + step - log_scale)
        pos = it.popd[:n] > 0
        it.lpopd[:n][pos] = np.log(it.popd[:n][pos])
        c["scale"] = 1.0
    else:
        c["scale"] = math.exp(log_scale)
        base.scale = math.exp(math.log(base.scale) + step)
    c["logscale"] = math.log(c["scale"])
    add_counts(st, idx, d.pop, d.popd, d.obs, float(c["scale"]))
    bi["pop"][idx] += d.pop
    bi["popd"][idx] += d.popd * c["scale"]
    bi["obs"][idx[d.obs != 0]] = 1
    bi["feats"][:], bi["nf"][:] = it.feats[:n], it.nf[:n]
    src, dst = idx[d.tr_src], idx[d.tr_dst]
    add_transitions(it.nbr_item, it.nbr_cnt, src, dst, d.tr_w, it.dirty)
    add_transitions(bi["nbr_item"], bi["nbr_cnt"], src, dst, d.tr_w, np.zeros(n, np.bool_))
    src, dst = idx[d.knn_src], idx[d.knn_dst]
    add_cooccurrences(it.knn_item, it.knn_cnt, src, dst, d.knn_w, it.dirty)
    add_cooccurrences(bi["knn_item"], bi["knn_cnt"], src, dst, d.knn_w, np.zeros(n, np.bool_))
    mask = np.zeros(cfg.n_buckets, np.bool_)
    mask[d.fm_rows] = True
    refresh_using(st.fm, it, mask, n)
