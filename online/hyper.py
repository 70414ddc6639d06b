"""Typed hyper-parameters handed to the kernels (one NamedTuple, rebuilt per batch).

``FmStep`` is the optimiser of one FM step (``online.fm_event_step``); ``Hyper`` adds the
engine's schedules and sizes. ``hyper(cfg, boosted)`` applies the drift reaction: while
boosted, ``lr`` is multiplied by ``drift_lr_boost`` and the popularity half-life by
``drift_half_life_factor`` (``growth = 2^(1/half_life)`` per event).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class FmStep(NamedTuple):
    """Optimiser of an FM step: SGD or AdaGrad with L2, clipped gradients and parameters;
    ``bpr`` weighs a pairwise loss (positive over its negatives) next to the logistic one."""

    lr: float
    l2w: float
    l2v: float
    adagrad: bool
    ada_eps: float
    intercept_lr: float
    clip_g: float
    clip_p: float
    bpr: float = 0.0  # weight of the pairwise (BPR) loss next to the logistic one


class Hyper(NamedTuple):
    """Everything a kernel reads from the configuration (see ``RecommenderConfig``)."""

    opt: FmStep
    lr_mult: float
    growth: float
    n_neg: int
    neg_pop: bool
    decay: float
    n_recent: int
    n_seq: int
    cache_every: int
    cache_max: int
    trend_every: int
    full_threshold: int
    n_probe: int
    ivf_every: int
    n_clusters: int
    ivf_max: int
    cold_centroid: bool
    seed: int
    knn_window: int
    knn_recent: int
    knn_decay: float
    knn_cand: int
    knn_window_decay: float
    knn_prior: float
    pop_prior: float


def hyper(cfg: Any, boosted: bool = False) -> Hyper:
    """The kernels' hyper-parameters from a ``RecommenderConfig`` (drift boost applied)."""
    mult = float(cfg.drift_lr_boost) if boosted else 1.0
    half_life = cfg.half_life_events * (cfg.drift_half_life_factor if boosted else 1.0)
    opt = FmStep(
        float(cfg.lr) * mult,
        float(cfg.l2_w),
        float(cfg.l2_v),
        cfg.optimizer == "adagrad",
        float(cfg.adagrad_eps),
        float(cfg.intercept_lr),
        float(cfg.clip_grad),
        float(cfg.clip_param),
        float(cfg.bpr_weight),
    )
    return Hyper(
        opt=opt,
        lr_mult=mult,
        growth=2.0 ** (1.0 / half_life),
        n_neg=int(cfg.n_negatives),
        neg_pop=cfg.negative_sampling == "popularity",
        decay=float(cfg.trans_decay),
        n_recent=int(cfg.n_recent),
        n_seq=int(cfg.n_seq_fields),
        cache_every=int(cfg.cache_refresh_events),
        cache_max=max(int(cfg.cache_refresh_max), 1),
        trend_every=int(cfg.trend_refresh_events),
        full_threshold=int(cfg.full_rank_threshold),
        n_probe=int(cfg.n_probe),
        ivf_every=max(int(cfg.ivf_refresh_events), 1),
        n_clusters=int(cfg.n_clusters),
        ivf_max=int(cfg.ivf_max_candidates),
        cold_centroid=bool(cfg.cold_start_centroid),
        seed=int(cfg.seed),
        knn_window=int(cfg.knn_window),
        knn_recent=int(cfg.knn_recent),
        knn_decay=float(cfg.knn_decay),
        knn_cand=int(cfg.knn_candidates),
        knn_window_decay=float(cfg.knn_window_decay),
        knn_prior=float(cfg.knn_prior),
        pop_prior=float(cfg.pop_prior),
    )
