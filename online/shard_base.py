"""The base copy of a shard's shared rows, and the delta of what changed since it.

``ShardBase`` holds the shared rows as they were after the last emitted delta plus every
merged one: FM ``w, gw, v, gv``, the intercept, and per item its static rows, popularity
(cumulative, decayed raw), observed flag and transition table. ``take_delta`` compares
the engine with it and moves it forward. Candidate FM rows are those whose ``w`` or
``gw`` bits changed (every FM step writes both) plus the id rows of items new since the
base (cold-start centroid); a full comparison of ``v``/``gv`` is not needed (tests check
the equivalence). Transition increments of a changed row are ``count - base count`` per
destination; an entry that entered a full row counts from the base row's minimum (the
evicted count it inherited is not an increment).
"""

from __future__ import annotations

import numpy as np

from streamrec.online.engine_state import EngineState
from streamrec.online.shard_delta import Delta

_ITEM_FILL = {
    "feats": -1,
    "nf": 0,
    "pop": 0,
    "popd": 0,
    "obs": 0,
    "nbr_item": -1,
    "nbr_cnt": 0,
}


class ShardBase:
    """Copies of the shared rows of ``st`` (see the module docstring)."""

    def __init__(self, st: EngineState, n_items: int) -> None:
        fm, it, c = st.fm, st.items, st.ctr[0]
        self.w, self.gw, self.v, self.gv = (a.copy() for a in (fm.w, fm.gw, fm.v, fm.gv))
        self.w0 = float(fm.w0[0])
        self.items = {f: getattr(it, f)[:n_items].copy() for f in _ITEM_FILL}
        self.scale = float(c["scale"])
        self.events = int(c["events"])

    def fit(self, n_items: int) -> None:
        """Extend the item copies to ``n_items`` rows (new items: empty base rows)."""
        n0 = self.items["nf"].shape[0]
        if n_items > n0:
            for f, a in self.items.items():
                pad = np.full((n_items - n0, *a.shape[1:]), _ITEM_FILL[f], a.dtype)
                self.items[f] = np.concatenate([a, pad])


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


def _transitions(it, bi: dict, n: int):
    cur_i, cur_c = it.nbr_item[:n], it.nbr_cnt[:n]
    b_i, b_c = bi["nbr_item"], bi["nbr_cnt"]
    rows = np.flatnonzero((cur_i != b_i[:n]).any(1) | (cur_c != b_c[:n]).any(1))
    ci, cc, pi, pc = cur_i[rows], cur_c[rows], b_i[rows], b_c[rows]
    same = (ci[:, :, None] == pi[:, None, :]) & (pi[:, None, :] >= 0)
    known = same.any(2)
    # an entry new since the base took an evicted minimum's count (space-saving): its
    # increment is at most ``count - min(base row)`` when the base row was full
    floor = np.where(pi[:, -1] >= 0, pc.min(1), 0.0)[:, None]
    inc = cc.astype(np.float64) - np.where(known, (same * pc[:, None, :]).sum(2), floor)
    sel = (ci >= 0) & (inc > 0)
    src = np.broadcast_to(rows[:, None], ci.shape)[sel]
    b_i[rows], b_c[rows] = ci, cc
    return src.astype(np.int64), ci[sel].astype(np.int64), inc[sel]


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
    src, dst, wgt = _transitions(it, bi, n)
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
    )
