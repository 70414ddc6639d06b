"""The base copy of a shard's shared rows, and the delta of what changed since it.

``ShardBase`` holds the shared rows as they were after the last emitted delta plus every
merged one: FM ``w, gw, v, gv``, the intercept, and per item its static rows, popularity
(cumulative, decayed raw), observed flag and transition table. ``take_delta`` compares
the engine with it and moves it forward. Candidate FM rows are those whose ``w`` or
``gw`` bits changed (every FM step writes both) plus the id rows of items new since the
base (cold-start centroid); a full comparison of ``v``/``gv`` is not needed (tests check
the equivalence). Transition increments of a changed row are ``count - base count`` per
destination; an entry that entered a full row counts from the base row's minimum (the
evicted count it inherited is not an increment). Item-kNN co-occurrence rows the same way
(``knn_increments``), looking an entry up in its base row by its probe window
(``online.item_similarity``): an entry that took a slot by eviction starts from its own
weight (nothing inherited), so all of its count is an increment.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from streamrec.online.engine_state import EngineState
from streamrec.online.item_similarity import probe_slot
from streamrec.online.shard_delta import Delta

_ITEM_FILL = {
    "feats": -1,
    "nf": 0,
    "pop": 0,
    "popd": 0,
    "obs": 0,
    "nbr_item": -1,
    "nbr_cnt": 0,
    "knn_item": -1,
    "knn_cnt": 0,
}


class ShardBase:
    """Copies of the shared rows of ``st`` (see the module docstring). The item copies are
    views of the first ``n`` rows of arrays grown by doubling, so a growing catalog costs
    amortised O(1) copies per item, not a copy of every table per delta."""

    def __init__(self, st: EngineState, n_items: int) -> None:
        fm, it, c = st.fm, st.items, st.ctr[0]
        self.w, self.gw, self.v, self.gv = (a.copy() for a in (fm.w, fm.gw, fm.v, fm.gv))
        self.w0 = float(fm.w0[0])
        self._rows = {f: getattr(it, f)[:n_items].copy() for f in _ITEM_FILL}
        self.n = n_items
        self.scale = float(c["scale"])
        self.events = int(c["events"])

    @property
    def items(self) -> dict[str, np.ndarray]:
        """Item field -> the base rows of items ``0..n-1`` (writable views)."""
        return {f: a[: self.n] for f, a in self._rows.items()}

    def fit(self, n_items: int) -> None:
        """Extend the item copies to ``n_items`` rows (new items: empty base rows)."""
        if n_items <= self.n:
            return
        cap = self._rows["nf"].shape[0]
        if n_items > cap:
            new_cap = max(n_items, 2 * cap, 64)
            for f, a in self._rows.items():
                grown = np.full((new_cap, *a.shape[1:]), _ITEM_FILL[f], a.dtype)
                grown[: self.n] = a[: self.n]
                self._rows[f] = grown
        self.n = n_items


def _bits_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.view(np.int32) != b.view(np.int32)


def _fm_part(st: EngineState, base: ShardBase, new_items: np.ndarray):
    fm, it = st.fm, st.items
    mask = _bits_differ(fm.w, base.w) | _bits_differ(fm.gw, base.gw)
    id_rows = it.feats[new_items, 0]
    mask[id_rows[id_rows >= 0]] = True
    rows = np.flatnonzero(mask)
    f64 = np.float64
    dw = fm.w[rows].astype(f64) - base.w[rows]
    dgw = fm.gw[rows].astype(f64) - base.gw[rows]
    dv = fm.v[rows].astype(f64) - base.v[rows]
    dgv = fm.gv[rows].astype(f64) - base.gv[rows]
    keep = (dw != 0) | (dgw != 0) | (dv != 0).any(1) | (dgv != 0).any(1)
    rows = rows[keep]
    for a, b in ((fm.w, base.w), (fm.gw, base.gw), (fm.v, base.v), (fm.gv, base.gv)):
        b[rows] = a[rows]
    return (
        rows.astype(np.int64),
        dw[keep],
        np.maximum(dgw[keep], 0),
        dv[keep],
        np.maximum(dgv[keep], 0),
    )


@njit(cache=True)
def _row_increments(cur_i, cur_c, b_i, b_c, r, src, dst, inc, t, write):
    """Increments of row ``r`` against its base row (written at ``t`` if ``write``); count."""
    m = cur_i.shape[1]
    floor = 0.0
    if b_i[r, m - 1] >= 0:  # full base row: a new entry inherited at most its minimum
        floor = np.float64(b_c[r, 0])
        for b in range(1, m):
            floor = min(floor, np.float64(b_c[r, b]))
    k = 0
    for a in range(m):
        ci = cur_i[r, a]
        if ci < 0:
            continue
        before, known = 0.0, False
        for b in range(m):
            if b_i[r, b] >= 0 and b_i[r, b] == ci:
                before += np.float64(b_c[r, b])
                known = True
        d = np.float64(cur_c[r, a]) - (before if known else floor)
        if d > 0.0:
            if write:
                src[t + k], dst[t + k], inc[t + k] = r, ci, d
            k += 1
    return k


@njit(cache=True, inline="always")
def _row_differs(cur_i, cur_c, b_i, b_c, r):
    """Whether row ``r`` of an (item, count) table differs from its base row."""
    for a in range(cur_i.shape[1]):
        if cur_i[r, a] != b_i[r, a] or cur_c[r, a] != b_c[r, a]:
            return True
    return False


@njit(cache=True)
def transition_increments(cur_i, cur_c, b_i, b_c, n):
    """``(src, dst, inc)`` of rows ``0..n-1`` that differ from their base rows (row-major),
    then base rows = current rows (see the module docstring)."""
    changed = np.zeros(n, np.bool_)
    total = 0
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    for r in range(n):
        changed[r] = _row_differs(cur_i, cur_c, b_i, b_c, r)
        if changed[r]:
            total += _row_increments(cur_i, cur_c, b_i, b_c, r, empty_i, empty_i, empty_f, 0, False)
    src, dst, inc = np.zeros(total, np.int64), np.zeros(total, np.int64), np.zeros(total, np.float64)
    t = 0
    for r in range(n):
        if changed[r]:
            t += _row_increments(cur_i, cur_c, b_i, b_c, r, src, dst, inc, t, True)
            b_i[r, :] = cur_i[r, :]
            b_c[r, :] = cur_c[r, :]
    return src, dst, inc


@njit(cache=True)
def knn_increments(cur_i, cur_c, b_i, b_c, n, touched):
    """``(src, dst, inc)``: for the rows ``r < n`` flagged in ``touched`` (learned since the
    last delta; the flags are then cleared) of the item-kNN tables, each entry's count
    minus its count in the base row (found in its probe window; 0 when absent), where
    positive; then base rows = current rows."""
    m_slots = cur_i.shape[1]
    changed = np.zeros(n, np.bool_)
    total = 0
    for r in range(n):
        if not touched[r]:
            continue
        touched[r] = False
        changed[r] = _row_differs(cur_i, cur_c, b_i, b_c, r)
        if changed[r]:  # at most one increment per entry
            for a in range(m_slots):
                total += np.int64(cur_i[r, a] >= 0)
    src, dst, inc = np.zeros(total, np.int64), np.zeros(total, np.int64), np.zeros(total, np.float64)
    t = 0
    for r in range(n):
        if not changed[r]:
            continue
        for a in range(m_slots):
            ci = cur_i[r, a]
            if ci < 0:
                continue
            before = 0.0
            if b_i[r, a] == ci:  # an entry keeps its slot (an item is in a row at most once)
                before = np.float64(b_c[r, a])
            else:
                b = probe_slot(b_i, r, ci)
                if b >= 0 and b_i[r, b] == ci:
                    before = np.float64(b_c[r, b])
            d = np.float64(cur_c[r, a]) - before
            if d > 0.0:
                src[t], dst[t], inc[t] = r, ci, d
                t += 1
        b_i[r, :] = cur_i[r, :]
        b_c[r, :] = cur_c[r, :]
    return src[:t], dst[:t], inc[:t]


def take_delta(st: EngineState, base: ShardBase, item_ids: list, head: tuple, growth: float) -> Delta:
    """The delta of ``st`` against ``base`` (then ``base`` = the engine's shared rows);
    ``head`` = (origin, run, seq); ``item_ids``: the catalog's ids by dense index."""
    it, c = st.items, st.ctr[0]
    n = len(item_ids)
    base.fit(n)
    bi = base.items
    scale = float(c["scale"])
    expected = base.scale * growth ** (int(c["events"]) - base.events)
    if scale < expected * 1e-50:  # the engine renormalised its decayed counts
        bi["popd"] *= scale / expected
    new_items = np.flatnonzero(bi["nf"][:n] == 0)
    fm_part = _fm_part(st, base, new_items)
    w0 = float(st.fm.w0[0]) - base.w0
    base.w0 = float(st.fm.w0[0])
    changed = (it.nf[:n] != bi["nf"]) | (it.feats[:n] != bi["feats"]).any(1)
    js = np.flatnonzero(changed)
    pop = np.maximum(it.pop[:n] - bi["pop"], 0.0)
    popd = np.maximum((it.popd[:n] - bi["popd"]) / scale, 0.0)
    obs = ((it.obs[:n] != 0) & (bi["obs"] == 0)).astype(np.uint8)
    src, dst, wgt = transition_increments(it.nbr_item, it.nbr_cnt, bi["nbr_item"], bi["nbr_cnt"], n)
    k_src, k_dst, k_w = knn_increments(it.knn_item, it.knn_cnt, bi["knn_item"], bi["knn_cnt"], n, it.knn_touched)
    for f in ("feats", "nf", "pop", "popd", "obs"):
        bi[f][:] = getattr(it, f)[:n]
    ref = np.unique(
        np.concatenate(
            [
                js,
                np.flatnonzero(pop),
                np.flatnonzero(popd),
                np.flatnonzero(obs),
                src,
                dst,
                k_src,
                k_dst,
            ]
        )
    )
    pos = np.searchsorted
    lens = it.nf[js].astype(np.int64)
    ptr = np.zeros(js.shape[0] + 1, np.int64)
    ptr[1:] = np.cumsum(lens)
    feat_rows = (
        np.concatenate([it.feats[j, : it.nf[j]] for j in js]).astype(np.int64) if js.size else np.zeros(0, np.int64)
    )
    n_events = int(c["events"]) - base.events
    base.scale, base.events = scale, int(c["events"])
    fm_rows, fm_w, fm_gw, fm_v, fm_gv = fm_part
    return Delta(
        int(head[0]),
        str(head[1]),
        int(head[2]),
        n_events,
        w0,
        tuple(item_ids[j] for j in ref),
        fm_rows,
        fm_w,
        fm_gw,
        fm_v,
        fm_gv,
        pos(ref, js).astype(np.int64),
        ptr,
        feat_rows,
        pop[ref],
        popd[ref],
        obs[ref],
        pos(ref, src).astype(np.int64),
        pos(ref, dst).astype(np.int64),
        wgt,
        pos(ref, k_src).astype(np.int64),
        pos(ref, k_dst).astype(np.int64),
        k_w,
    )
