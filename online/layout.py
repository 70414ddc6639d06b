"""Flat-array layout of the engine state: names, dtypes, row groups, growth.

Every array's first axis is its row axis. Row groups share a capacity that doubles when
full: ``fm`` (hashed feature rows, fixed), ``item`` (dense item index), ``user`` (dense
user index), ``hist`` (history entries), ``occ`` (popularity ring, fixed) and ``misc``
(small arrays written whole). Numeric item-side features use reserved FM rows 0..3.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

# numeric item-side features (reserved FM rows)
NUM_TRANS_LAST, NUM_TRANS_OLDER, NUM_POP_DECAYED, NUM_POP_CUM = 0, 1, 2, 3
N_NUM = 4
LOG_POP_FLOOR = -3.0  # log of the smallest decayed count used as a feature

# glob (float64 scalars)
G_W0, G_SCALE, G_LOGSCALE, G_LOSS_SUM, G_LOSS_N, G_HIT_SUM, G_HIT_N = range(7)
N_GLOB = 8
# cnt (int64 counters)
C_EVENTS, C_ITEMS, C_USERS, C_OBS, C_HIST, C_OCC, C_STAMP, C_NCLUST, C_READY, C_CURSOR = range(10)
N_CNT = 12
# hp (float64 hyperparameters handed to kernels)
(HP_LR, HP_L2W, HP_L2V, HP_ADAGRAD, HP_ADA_EPS, HP_INTERCEPT_LR, HP_CLIP_G, HP_CLIP_P,
 HP_NNEG, HP_NEG_POP, HP_GROWTH, HP_DECAY, HP_NRECENT, HP_NSEQ, HP_CACHE_EVERY,
 HP_TREND_EVERY, HP_FULL_THRESHOLD, HP_NPROBE, HP_LR_MULT, HP_IVF_EVERY, HP_NCLUST,
 HP_COLD_CENTROID, HP_IVF_MAX, HP_CACHE_MAX) = range(24)

N_HP = 28
N_CLUST_MAX = 1024

Fm = namedtuple("Fm", "w v gw gv glob dirty")
Items = namedtuple(
    "Items",
    "key feats nf vsum wsum pair pop lpop popd lpopd obs nbr_item nbr_cnt cluster clnext "
    "obs_list dirty vsum_t",
)
Users = namedtuple("Users", "head dirty")
Hist = namedtuple("Hist", "item prev dirty")
Occ = namedtuple("Occ", "ring dirty")
Ivf = namedtuple("Ivf", "centroids head trend order ptr")
Scratch = namedtuple(
    "Scratch",
    "score tr0 tr1 mark mark2 touched n_touched cand rows xs grp s sa anum rec "
    "ex_ptr ex_items ex_labels ex_loss",
)

USER_ROWS_MAX = 72  # context rows (<= 64) + sequence rows (<= 8)


def array_specs(k: int, n_buckets: int, max_feats: int, n_nbr: int, occ: int):
    """``name -> (group, dtype, trailing shape, fill)`` for every state array."""
    f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64
    return {
        "fm_w": ("fm", f32, (), 0), "fm_v": ("fm", f32, (k,), 0),
        "fm_gw": ("fm", f32, (), 0), "fm_gv": ("fm", f32, (k,), 0),
        "item_key": ("item", i64, (), 0), "item_feats": ("item", i32, (max_feats,), -1),
        "item_nf": ("item", i32, (), 0), "item_vsum": ("item", f32, (k,), 0),
        "item_wsum": ("item", f32, (), 0), "item_pair": ("item", f32, (), 0),
        "item_pop": ("item", f64, (), 0), "item_lpop": ("item", f64, (), 0),
        "item_popd": ("item", f64, (), 0), "item_lpopd": ("item", f64, (), LOG_POP_FLOOR - 50),
        "item_obs": ("item", np.uint8, (), 0), "nbr_item": ("item", i32, (n_nbr,), -1),
        "nbr_cnt": ("item", f32, (n_nbr,), 0), "item_cluster": ("item", i32, (), -1),
        "item_clnext": ("item", i32, (), -1), "obs_list": ("item", i32, (), -1),
        "user_head": ("user", i64, (), -1),
        "hist_item": ("hist", i32, (), -1), "hist_prev": ("hist", i64, (), -1),
        "occ_ring": ("occ", i32, (), -1),
        "glob": ("misc", f64, (), 0), "cnt": ("misc", i64, (), 0),
        "ivf_centroids": ("misc", f32, (k,), 0), "ivf_head": ("misc", i32, (), -1),
        "trend": ("misc", i32, (), -1), "ivf_ptr": ("misc", i64, (), 0),
        "ivf_order": ("item", i32, (), -1),
    }


def alloc(spec, rows: int) -> np.ndarray:
    """A new array of ``rows`` rows filled with the spec's fill value."""
    _, dtype, tail, fill = spec
    return np.full((rows, *tail), fill, dtype=dtype)


def grow(arr: np.ndarray, spec, rows: int) -> np.ndarray:
    """``arr`` extended to ``rows`` rows (new rows get the fill value)."""
    out = alloc(spec, rows)
    out[: arr.shape[0]] = arr
    return out


def init_fm(n_buckets: int, k: int, std: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (zeros) and latent vectors ~ N(0, std^2), a pure function of the seed;
    reserved numeric rows start with zero latents."""
    rng = np.random.Generator(np.random.PCG64(seed & 0xFFFF_FFFF_FFFF_FFFF))
    v = (rng.standard_normal((n_buckets, k)) * std).astype(np.float32)
    v[:N_NUM] = 0.0
    return np.zeros(n_buckets, np.float32), v


def new_scratch(n_items_cap: int, k: int, n_rec: int, n_neg: int = 4, max_feats: int = 16) -> Scratch:
    """Work buffers of the kernels (not state)."""
    n_ex = n_neg + 1
    rows_max = USER_ROWS_MAX + n_ex * (max_feats + N_NUM) + 8
    return Scratch(
        score=np.zeros(n_items_cap), tr0=np.zeros(n_items_cap), tr1=np.zeros(n_items_cap),
        mark=np.zeros(n_items_cap, np.int64), mark2=np.zeros(n_items_cap, np.int64),
        touched=np.zeros(2 * n_items_cap + 8, np.int32), n_touched=np.zeros(1, np.int64),
        cand=np.zeros(n_items_cap, np.int32),
        rows=np.zeros(rows_max, np.int64), xs=np.zeros(rows_max), grp=np.zeros(rows_max, np.int8),
        s=np.zeros((6, k)), sa=np.zeros(k), anum=np.zeros(N_NUM), rec=np.zeros(max(n_rec, 1), np.int32),
        ex_ptr=np.zeros(n_ex + 1, np.int64), ex_items=np.zeros(n_ex, np.int64),
        ex_labels=np.zeros(n_ex), ex_loss=np.zeros(n_ex),
    )


def hyperparameters(cfg) -> np.ndarray:
    """The float64 ``hp`` vector the kernels read, from a ``RecommenderConfig``."""
    hp = np.zeros(N_HP)
    hp[HP_LR], hp[HP_L2W], hp[HP_L2V] = cfg.lr, cfg.l2_w, cfg.l2_v
    hp[HP_ADAGRAD] = 1.0 if cfg.optimizer == "adagrad" else 0.0
    hp[HP_ADA_EPS], hp[HP_INTERCEPT_LR] = cfg.adagrad_eps, cfg.intercept_lr
    hp[HP_CLIP_G], hp[HP_CLIP_P] = cfg.clip_grad, cfg.clip_param
    hp[HP_NNEG] = cfg.n_negatives
    hp[HP_NEG_POP] = 1.0 if cfg.negative_sampling == "popularity" else 0.0
    hp[HP_DECAY], hp[HP_NRECENT], hp[HP_NSEQ] = cfg.trans_decay, cfg.n_recent, cfg.n_seq_fields
    hp[HP_CACHE_EVERY], hp[HP_TREND_EVERY] = cfg.cache_refresh_events, cfg.trend_refresh_events
    hp[HP_FULL_THRESHOLD], hp[HP_NPROBE] = cfg.full_rank_threshold, cfg.n_probe
    hp[HP_IVF_EVERY], hp[HP_NCLUST] = max(cfg.ivf_refresh_events, 1), cfg.n_clusters
    hp[HP_COLD_CENTROID] = 1.0 if cfg.cold_start_centroid else 0.0
    hp[HP_IVF_MAX], hp[HP_CACHE_MAX] = cfg.ivf_max_candidates, max(cfg.cache_refresh_max, 1)
    hp[HP_LR_MULT] = 1.0
    hp[HP_GROWTH] = 2.0 ** (1.0 / cfg.half_life_events)
    return hp
