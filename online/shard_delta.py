"""A shard delta: the shared rows one shard changed since its previous delta.

A ``Delta`` carries additive differences (float64, so ``base + (x - base)`` restores a
float32 row exactly): FM rows ``w, gw, v, gv`` by hashed row id and the intercept; per
item (by id string, dense indices differ per shard) cumulative and decayed popularity
increments (decayed ones normalised at emission, ``d_j = popd_j / scale``), newly observed
flags, static feature rows of new or changed items, transition increments ``src -> dst``
and item-kNN co-occurrence increments ``c(src, dst)`` (positions in ``items``). ``(origin, run, seq)`` names it: a receiver
applies each once. ``check_delta`` validates everything a hostile payload could break
before any state is touched.

>>> d = empty_delta(k=2)
>>> check_delta(d, k=2, n_buckets=64, max_item_features=4)
>>> d.fm_v.shape
(0, 2)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from streamrec.online.encoding import clean_id

MAX_RUN_LEN = 128
MAX_ABS = 1e30


class Delta(NamedTuple):
    """Shared-row changes of shard ``origin`` (run ``run``), number ``seq`` of that run."""

    origin: int
    run: str
    seq: int
    n_events: int  # local events learned since the previous delta (decay of popd)
    w0: float
    items: tuple  # item ids; positions below index it
    fm_rows: np.ndarray  # int64 [n]
    fm_w: np.ndarray  # float64 [n]
    fm_gw: np.ndarray  # float64 [n]
    fm_v: np.ndarray  # float64 [n, k]
    fm_gv: np.ndarray  # float64 [n, k]
    feat_item: np.ndarray  # int64 [m] positions of items whose static rows follow
    feat_ptr: np.ndarray  # int64 [m + 1]
    feat_rows: np.ndarray  # int64 hashed rows
    pop: np.ndarray  # float64 [len(items)] cumulative count increments
    popd: np.ndarray  # float64 [len(items)] decayed increments (normalised)
    obs: np.ndarray  # uint8 [len(items)] 1 = observed (since the previous delta)
    tr_src: np.ndarray  # int64 positions
    tr_dst: np.ndarray  # int64 positions
    tr_w: np.ndarray  # float64 transition weight increments
    knn_src: np.ndarray  # int64 positions
    knn_dst: np.ndarray  # int64 positions
    knn_w: np.ndarray  # float64 co-occurrence count increments


ARRAY_DTYPES = {
    "fm_rows": np.int64,
    "fm_w": np.float64,
    "fm_gw": np.float64,
    "fm_v": np.float64,
    "fm_gv": np.float64,
    "feat_item": np.int64,
    "feat_ptr": np.int64,
    "feat_rows": np.int64,
    "pop": np.float64,
    "popd": np.float64,
    "obs": np.uint8,
    "tr_src": np.int64,
    "tr_dst": np.int64,
    "tr_w": np.float64,
    "knn_src": np.int64,
    "knn_dst": np.int64,
    "knn_w": np.float64,
}
SCALARS = ("origin", "run", "seq", "n_events", "w0")


def empty_delta(k: int, origin: int = 0, run: str = "", seq: int = 0) -> Delta:
    """A delta that changes nothing."""
    arrays = {n: np.zeros(0, t) for n, t in ARRAY_DTYPES.items()}
    arrays["fm_v"] = np.zeros((0, k))
    arrays["fm_gv"] = np.zeros((0, k))
    arrays["feat_ptr"] = np.zeros(1, np.int64)
    return Delta(origin, run, seq, 0, 0.0, (), **arrays)


def _fail(msg: str) -> None:
    raise ValueError(f"invalid shard delta: {msg}")


def _positions(a: np.ndarray, n: int, what: str) -> None:
    if a.size and (a.min() < 0 or a.max() >= n):
        _fail(f"{what} out of range [0, {n})")


def check_delta(d: Delta, k: int, n_buckets: int, max_item_features: int) -> None:
    """Raise ``ValueError`` unless ``d`` is well-formed for an engine of this shape."""
    if any(type(x) is not int for x in (d.origin, d.seq, d.n_events)):
        _fail("origin, seq and n_events must be integers")
    if min(d.origin, d.seq, d.n_events) < 0:
        _fail("origin, seq and n_events must be >= 0")
    if not isinstance(d.run, str) or len(d.run) > MAX_RUN_LEN:
        _fail(f"run must be a string of at most {MAX_RUN_LEN} characters")
    if not isinstance(d.w0, float) or not np.isfinite(d.w0):
        _fail("w0 must be a finite float")
    for name, dtype in ARRAY_DTYPES.items():
        a = getattr(d, name)
        if not isinstance(a, np.ndarray) or a.dtype != dtype:
            _fail(f"{name} must be a {np.dtype(dtype).name} array")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            _fail(f"{name} has non-finite values")
    n = d.fm_rows.shape[0]
    if d.fm_rows.ndim != 1 or any(getattr(d, x).shape != (n,) for x in ("fm_w", "fm_gw")):
        _fail("fm_rows, fm_w and fm_gw must be vectors of one length")
    if d.fm_v.shape != (n, k) or d.fm_gv.shape != (n, k):
        _fail(f"fm_v and fm_gv must have shape ({n}, {k})")
    _positions(d.fm_rows, n_buckets, "fm_rows")
    if np.unique(d.fm_rows).shape[0] != n:
        _fail("fm_rows repeat")
    items = d.items
    if not isinstance(items, tuple) or any(not isinstance(s, str) or clean_id(s) != s for s in items):
        _fail("items must be clean id strings")
    if len(set(items)) != len(items):
        _fail("items repeat")
    n_it = len(items)
    for name in ("pop", "popd", "obs"):
        if getattr(d, name).shape != (n_it,):
            _fail(f"{name} must have one entry per item")
    big = [x for x in ARRAY_DTYPES if x.startswith("fm_") and x != "fm_rows"]
    if any(getattr(d, x).size and np.abs(getattr(d, x)).max() > MAX_ABS for x in big) or abs(d.w0) > MAX_ABS:
        _fail(f"FM differences must be at most {MAX_ABS:g} in magnitude")
    if (d.fm_gw < 0).any() or (d.fm_gv < 0).any():
        _fail("AdaGrad sums only grow: fm_gw, fm_gv must be >= 0")
    if (d.pop < 0).any() or (d.popd < 0).any() or (d.obs > 1).any():
        _fail("pop, popd must be >= 0 and obs 0/1")
    m = d.feat_item.shape[0]
    if d.feat_item.ndim != 1 or d.feat_ptr.shape != (m + 1,) or d.feat_ptr[0] != 0:
        _fail("feat_ptr must have len(feat_item) + 1 entries starting at 0")
    lens = np.diff(d.feat_ptr)
    if m and (lens.min() < 1 or lens.max() > max_item_features):
        _fail(f"an item has 1..{max_item_features} static rows")
    if d.feat_ptr[-1] != d.feat_rows.shape[0] or d.feat_rows.ndim != 1:
        _fail("feat_ptr does not match feat_rows")
    _positions(d.feat_item, n_it, "feat_item")
    _positions(d.feat_rows, n_buckets, "feat_rows")
    if np.unique(d.feat_item).shape[0] != m:
        _fail("feat_item repeats")
    _check_edges(d.tr_src, d.tr_dst, d.tr_w, n_it, "tr")
    _check_edges(d.knn_src, d.knn_dst, d.knn_w, n_it, "knn")


def _check_edges(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n_items: int, kind: str) -> None:
    """Increments ``w`` of item pairs ``src -> dst``: positions in range, weights >= 0."""
    t = src.shape[0]
    if src.ndim != 1 or dst.shape != (t,) or w.shape != (t,):
        _fail(f"{kind}_src, {kind}_dst and {kind}_w must be vectors of one length")
    _positions(src, n_items, f"{kind}_src")
    _positions(dst, n_items, f"{kind}_dst")
    if (w < 0).any():
        _fail(f"{kind}_w must be >= 0")
