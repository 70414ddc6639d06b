"""The engine's explicit state: typed bundles of flat arrays and one counters record.

``EngineState = (fm, items, users, hist, occ, ivf, ctr)``; every kernel takes the bundles
it needs whole. Every array's first axis is its row axis. Row groups share a capacity that
doubles when full: ``fm`` (hashed feature rows, fixed), ``item`` (dense item index),
``user`` (dense user index), ``hist`` (history entries: a ring that stops doubling at
``history_capacity``, ``online.history``), ``occ`` (popularity ring, fixed)
and ``misc`` (small arrays written whole). ``ctr`` is a one-element structured array
(``COUNTERS``): named float totals and int counters, mutated in place by the kernels.

Persisted form (``state_arrays``): one array per spec name (``ARRAY_NAMES``) plus
``glob`` = ``[w0, *float counters]`` (float64) and ``cnt`` = the int counters (int64), in
the field order of ``COUNTERS``; longer legacy vectors are read by position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from streamrec.online.scoring import LOG_POP_FLOOR, N_NUM

N_CLUST_MAX = 1024
FLOAT_COUNTERS = ("scale", "logscale", "loss_sum", "loss_n", "hit_sum", "hit_n")
INT_COUNTERS = (
    "events",
    "items",
    "users",
    "obs",
    "hist",
    "occ",
    "stamp",
    "n_clusters",
    "ready",
    "cursor",
)
COUNTERS = np.dtype([(n, np.float64) for n in FLOAT_COUNTERS] + [(n, np.int64) for n in INT_COUNTERS])


class Fm(NamedTuple):
    """FM parameters: intercept ``w0[0]``, weights, latents, AdaGrad sums, dirty rows."""

    w0: np.ndarray
    w: np.ndarray
    v: np.ndarray
    gw: np.ndarray
    gv: np.ndarray
    dirty: np.ndarray


class Items(NamedTuple):
    """Per-item rows: key, static features, FM cache, counts, neighbours, IVF links."""

    key: np.ndarray
    feats: np.ndarray
    nf: np.ndarray
    vsum: np.ndarray
    wsum: np.ndarray
    pair: np.ndarray
    pop: np.ndarray
    lpop: np.ndarray
    popd: np.ndarray
    lpopd: np.ndarray
    obs: np.ndarray
    nbr_item: np.ndarray
    nbr_cnt: np.ndarray
    cluster: np.ndarray
    clnext: np.ndarray
    obs_list: np.ndarray
    dirty: np.ndarray
    vsum_t: np.ndarray  # derived: transposed copy of vsum (not persisted; see vsum_t_live)
    knn_item: np.ndarray  # item-kNN co-occurrence rows (online.item_similarity)
    knn_cnt: np.ndarray
    pop_rs: np.ndarray  # derived: 1 / sqrt(max(pop, 1)) (not persisted)
    clprev: np.ndarray  # derived: backward IVF bucket links (not persisted, ivf_prev_links)
    knn_touched: np.ndarray  # derived: kNN row learned since the last shard delta (not persisted)
    vsum_t_live: np.ndarray  # derived: [1] bool, vsum_t kept current (online.item_cache)


class Users(NamedTuple):
    head: np.ndarray
    dirty: np.ndarray


class Hist(NamedTuple):
    item: np.ndarray
    prev: np.ndarray
    dirty: np.ndarray


class Occ(NamedTuple):
    ring: np.ndarray
    dirty: np.ndarray


class Ivf(NamedTuple):
    centroids: np.ndarray
    head: np.ndarray
    trend: np.ndarray
    order: np.ndarray
    ptr: np.ndarray
    cent_t: np.ndarray  # derived: centroids transposed, [k, N_CLUST_MAX] (not persisted)
    dots: np.ndarray  # work: one query's inner products with the centroids (not persisted)


class EngineState(NamedTuple):
    fm: Fm
    items: Items
    users: Users
    hist: Hist
    occ: Occ
    ivf: Ivf
    ctr: np.ndarray  # shape (1,), dtype COUNTERS


class Spec(NamedTuple):
    group: str
    bundle: str
    field: str
    dtype: Any
    tail: tuple
    fill: float


BUNDLES = {
    "fm": Fm,
    "items": Items,
    "users": Users,
    "hist": Hist,
    "occ": Occ,
    "ivf": Ivf,
}
DIRTY = {"fm": "fm", "item": "items", "user": "users", "hist": "hist", "occ": "occ"}
IN_USE = {"item": "items", "user": "users", "hist": "hist"}  # row group -> counter of its rows in use
LOG_POP_FILL = LOG_POP_FLOOR - 50  # item_lpopd before the first count (below any floor)


def array_specs(cfg: Any) -> dict[str, Spec]:
    """``name -> Spec`` for every persisted array of a ``RecommenderConfig``."""
    f32, f64, i32, i64, k = np.float32, np.float64, np.int32, np.int64, cfg.k
    rows = [
        ("fm_w", "fm", "fm", "w", f32, (), 0),
        ("fm_v", "fm", "fm", "v", f32, (k,), 0),
        ("fm_gw", "fm", "fm", "gw", f32, (), 0),
        ("fm_gv", "fm", "fm", "gv", f32, (k,), 0),
        ("item_key", "item", "items", "key", i64, (), 0),
        ("item_feats", "item", "items", "feats", i32, (cfg.max_item_features,), -1),
        ("item_nf", "item", "items", "nf", i32, (), 0),
        ("item_vsum", "item", "items", "vsum", f32, (k,), 0),
        ("item_wsum", "item", "items", "wsum", f32, (), 0),
        ("item_pair", "item", "items", "pair", f32, (), 0),
        ("item_pop", "item", "items", "pop", f64, (), 0),
        ("item_lpop", "item", "items", "lpop", f64, (), 0),
        ("item_popd", "item", "items", "popd", f64, (), 0),
        ("item_lpopd", "item", "items", "lpopd", f64, (), LOG_POP_FILL),
        ("item_obs", "item", "items", "obs", np.uint8, (), 0),
        ("nbr_item", "item", "items", "nbr_item", i32, (cfg.n_neighbours,), -1),
        ("nbr_cnt", "item", "items", "nbr_cnt", f32, (cfg.n_neighbours,), 0),
        ("item_cluster", "item", "items", "cluster", i32, (), -1),
        ("item_clnext", "item", "items", "clnext", i32, (), -1),
        ("obs_list", "item", "items", "obs_list", i32, (), -1),
        ("knn_item", "item", "items", "knn_item", i32, (cfg.knn_slots,), -1),
        ("knn_cnt", "item", "items", "knn_cnt", f32, (cfg.knn_slots,), 0),
        ("ivf_order", "item", "ivf", "order", i32, (), -1),
        ("user_head", "user", "users", "head", i64, (), -1),
        ("hist_item", "hist", "hist", "item", i32, (), -1),
        ("hist_prev", "hist", "hist", "prev", i64, (), -1),
        ("occ_ring", "occ", "occ", "ring", i32, (), -1),
        ("ivf_centroids", "misc", "ivf", "centroids", f32, (k,), 0),
        ("ivf_head", "misc", "ivf", "head", i32, (), -1),
        ("trend", "misc", "ivf", "trend", i32, (), -1),
        ("ivf_ptr", "misc", "ivf", "ptr", i64, (), 0),
    ]
    return {r[0]: Spec(*r[1:]) for r in rows}


def _rows(cfg: Any, spec: Spec, name: str) -> int:
    caps = {
        "fm": cfg.n_buckets,
        "item": 64,
        "user": 64,
        "hist": 256,
        "occ": cfg.occurrence_window,
    }
    misc = {
        "ivf_centroids": N_CLUST_MAX,
        "ivf_head": N_CLUST_MAX,
        "trend": max(cfg.n_trending, 1),
        "ivf_ptr": N_CLUST_MAX + 1,
    }
    return misc[name] if spec.group == "misc" else caps[spec.group]


def alloc(spec: Spec, rows: int) -> np.ndarray:
    """A new array of ``rows`` rows filled with the spec's fill value."""
    return np.full((rows, *spec.tail), spec.fill, dtype=spec.dtype)


def init_fm(n_buckets: int, k: int, std: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (zeros) and latent vectors ~ N(0, std^2), a pure function of the seed;
    reserved numeric rows start with zero latents."""
    rng = np.random.Generator(np.random.PCG64(seed & 0xFFFF_FFFF_FFFF_FFFF))
    v = (rng.standard_normal((n_buckets, k)) * std).astype(np.float32)
    v[:N_NUM] = 0.0
    return np.zeros(n_buckets, np.float32), v


def initial_arrays(cfg: Any) -> dict[str, np.ndarray]:
    """Persisted arrays of a fresh engine (counters zero, decay scale 1)."""
    arrays = {n: alloc(s, _rows(cfg, s, n)) for n, s in array_specs(cfg).items()}
    arrays["fm_w"], arrays["fm_v"] = init_fm(cfg.n_buckets, cfg.k, cfg.init_std, cfg.seed)
    glob = np.zeros(1 + len(FLOAT_COUNTERS))
    glob[1 + FLOAT_COUNTERS.index("scale")] = 1.0
    arrays["glob"], arrays["cnt"] = glob, np.zeros(len(INT_COUNTERS), np.int64)
    return arrays


def derived_item_arrays(items: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The item arrays computed from persisted ones: ``vsum_t`` (``vsum`` transposed, for
    scoring vectorised over items), ``pop_rs = 1 / sqrt(max(pop, 1))`` (the cosine's
    normaliser, ``online.item_similarity``), ``clprev`` (``ivf_prev_links``) and
    ``knn_touched`` (rows whose kNN entries learning changed since the last shard delta,
    ``online.shard_base``; all set: the next delta compares every row once) and
    ``vsum_t_live`` (set: ``vsum_t`` is current, ``online.item_cache``)."""
    return {
        "vsum_t": np.ascontiguousarray(items["vsum"].T),
        "pop_rs": 1.0 / np.sqrt(np.maximum(items["pop"], 1.0)),
        "clprev": ivf_prev_links(items["clnext"]),
        "knn_touched": np.ones(items["pop"].shape[0], np.bool_),
        "vsum_t_live": np.ones(1, np.bool_),
    }


def ivf_prev_links(clnext: np.ndarray) -> np.ndarray:
    """``clprev``: the backward links of the IVF bucket lists that ``clnext`` chains forward
    from ``Ivf.head`` (-1: first of its list or in no list), so that
    ``retrieval.ivf_unlink`` takes ``O(1)``.

    >>> ivf_prev_links(np.array([2, -2, -1, 0], np.int32)).tolist()
    [3, -1, 0, -1]
    """
    prev = np.full(clnext.shape[0], -1, np.int32)
    src = np.flatnonzero(clnext >= 0)
    prev[clnext[src]] = src
    return prev


def build_state(
    arrays: Mapping[str, np.ndarray], cfg: Any, dirty: bool = True, capacity: Mapping[str, int] | None = None
) -> EngineState:
    """An ``EngineState`` over copies of persisted ``arrays`` (all rows dirty if ``dirty``);
    a group's arrays shorter than ``capacity[group]`` (trimmed) are filled up to it."""
    specs = array_specs(cfg)
    caps = dict(capacity or {})
    n_hist = arrays["hist_item"].shape[0] if "hist_item" in arrays else 0
    if n_hist & (n_hist - 1):  # the history is a ring of a power of two (online.history)
        caps["hist"] = max(caps.get("hist", 0), 1 << n_hist.bit_length())
    fields: dict[str, dict[str, np.ndarray]] = {b: {} for b in BUNDLES}
    for name, s in specs.items():
        if name not in arrays:  # saved before this array existed (item-kNN): empty rows
            ref = next(n for n, t in specs.items() if t.group == s.group and n in arrays)
            fields[s.bundle][s.field] = alloc(s, max(arrays[ref].shape[0], caps.get(s.group, 0)))
            continue
        a = arrays[name]
        if caps.get(s.group, 0) > a.shape[0]:
            out = alloc(s, caps[s.group])
            out[: a.shape[0]] = a
            fields[s.bundle][s.field] = out
        else:
            fields[s.bundle][s.field] = np.array(a, dtype=s.dtype, copy=True)
    for group, bundle in DIRTY.items():
        rows = next(fields[s.bundle][s.field].shape[0] for s in specs.values() if s.group == group)
        fields[bundle]["dirty"] = np.full(rows, dirty, np.bool_)
    glob = np.asarray(arrays["glob"], np.float64)
    cnt = np.asarray(arrays["cnt"], np.int64)
    ctr = np.zeros(1, COUNTERS)
    for t, n in enumerate(FLOAT_COUNTERS):
        ctr[n] = glob[1 + t]
    for t, n in enumerate(INT_COUNTERS):
        ctr[n] = cnt[t]
    fields["fm"]["w0"] = np.array(glob[:1], np.float64)
    fields["items"].update(derived_item_arrays(fields["items"]))
    fields["ivf"]["cent_t"] = np.ascontiguousarray(fields["ivf"]["centroids"].T)
    fields["ivf"]["dots"] = np.zeros(fields["ivf"]["centroids"].shape[0])
    bundles = {b: cls(**fields[b]) for b, cls in BUNDLES.items()}
    return EngineState(ctr=ctr, **bundles)


def rows_in_use(st: EngineState) -> dict[str, int]:
    """Row group -> its rows in use (``IN_USE``; the history's counter runs past its ring once
    that is full); the rows past them up to the capacity hold their fill values."""
    rec = st.ctr[0]
    return {g: min(int(rec[c]), capacity(st, g)) for g, c in IN_USE.items()}


def state_arrays(st: EngineState, cfg: Any, copy: bool = True, trim: bool = False) -> dict[str, np.ndarray]:
    """Persisted arrays of ``st`` (``copy=False`` shares the live arrays but ``glob``/``cnt``);
    ``trim``: the arrays of the ``IN_USE`` groups cut to their rows in use."""
    out: dict[str, np.ndarray] = {}
    used = rows_in_use(st) if trim else {}
    for name, s in array_specs(cfg).items():
        a = getattr(getattr(st, s.bundle), s.field)
        if s.group in used:
            a = a[: used[s.group]]
        out[name] = a.copy() if copy else a
    rec = st.ctr[0]
    out["glob"] = np.array([st.fm.w0[0], *(rec[n] for n in FLOAT_COUNTERS)], np.float64)
    out["cnt"] = np.array([rec[n] for n in INT_COUNTERS], np.int64)
    return out


def capacity(st: EngineState, group: str) -> int:
    """Rows of the row group ``group`` (its dirty vector's length)."""
    return getattr(st, DIRTY[group]).dirty.shape[0]


def grow(st: EngineState, cfg: Any, group: str, rows: int) -> EngineState:
    """``st`` with the arrays of ``group`` extended to at least ``rows`` rows (capacity
    doubles until it fits; new rows get the fill value and are dirty)."""
    cap = capacity(st, group)
    if rows <= cap:
        return st
    new = cap
    while new < rows:
        new *= 2
    changed: dict[str, dict[str, np.ndarray]] = {}
    for s in array_specs(cfg).values():
        if s.group == group:
            out = alloc(s, new)
            out[:cap] = getattr(getattr(st, s.bundle), s.field)
            changed.setdefault(s.bundle, {})[s.field] = out
    bundle = DIRTY[group]
    d = np.ones(new, np.bool_)
    d[:cap] = getattr(st, bundle).dirty
    changed.setdefault(bundle, {})["dirty"] = d
    if group == "item":
        changed["items"].update(derived_item_arrays(changed["items"]))
    parts = {b: getattr(st, b)._replace(**f) for b, f in changed.items()}
    return st._replace(**parts)


def dirty_flags(st: EngineState) -> dict[str, np.ndarray]:
    """Row group -> its dirty vector (live)."""
    return {g: getattr(st, b).dirty for g, b in DIRTY.items()}
