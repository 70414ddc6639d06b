"""Hyperparameters of the streaming recommender (one dataclass, good defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class RecommenderConfig:
    """All knobs of :class:`online.recommender.Recommender`.

    FM: ``k`` factors over ``n_buckets`` hashed rows, ``optimizer`` "adagrad" | "sgd".
    Negatives: ``n_negatives`` per positive, ``negative_sampling`` "uniform" (over items
    observed so far) | "popularity" (over the last ``occurrence_window`` positives);
    ``bpr_weight`` adds that much BPR loss (the positive over each negative) to the
    logistic one.
    Sequence: the last ``n_seq_fields`` items are FM fields; transitions from the last
    ``n_recent`` items (weight ``trans_decay**p``) feed ``n_neighbours``-slot tables.
    Retrieval: above ``full_rank_threshold`` items, candidates = neighbours ∪ trending ∪
    IVF buckets (``n_clusters``, 0 = sqrt(n)/2; ``n_probe`` buckets, at most
    ``ivf_max_candidates`` items per query). Item caches: each event refreshes
    ``clip(n_items / cache_refresh_events, 1, cache_refresh_max)`` items round-robin.
    Item-kNN feature (``online.item_similarity``): co-occurrence within the last
    ``knn_window`` items (the ``p``-th weighted ``knn_window_decay**p``) in
    ``knn_slots``-slot rows (0 = off), scored from the last ``knn_recent`` items (weight
    ``knn_decay**p``); in the retrieval regime the ``knn_candidates`` items of highest
    ``knn_u`` join the candidates. Ranking priors: ``knn_prior`` is added to the kNN
    feature's learned weight, ``pop_prior`` to the decayed popularity's (the FM learns
    them for logistic loss on sampled negatives; ranking is better with more). Defaults
    chosen on ML-100K events 0-49,999 only. Retrieval breadth and schedules that bind
    only above ``full_rank_threshold`` items (``knn_candidates``, ``n_trending``,
    ``cache_refresh_max``, ``trend_refresh_events``; ML-100K never gets there): the
    cheapest values whose HR@10 stays within 0.0005 of twice as much work on two logs of
    a 20k-item catalog (README, "Engine cost").
    History: the users' histories (sequence features, the items excluded from ranking) are
    the positives among the last ``history_capacity`` positive events overall (a ring, a
    power of two; 13 bytes per entry), so memory stays bounded on an endless stream; a
    state's ring never shrinks.
    """

    k: int = 16
    lr: float = 0.1
    l2_w: float = 1e-6
    l2_v: float = 1e-6
    optimizer: str = "adagrad"
    adagrad_eps: float = 0.1
    intercept_lr: float = 0.01
    init_std: float = 0.05
    clip_grad: float = 10.0
    clip_param: float = 100.0
    n_negatives: int = 4
    bpr_weight: float = 0.0
    negative_sampling: str = "uniform"
    occurrence_window: int = 1 << 16
    half_life_events: float = 10_000.0
    n_recent: int = 5
    n_seq_fields: int = 1
    trans_decay: float = 0.7
    n_neighbours: int = 64
    n_buckets: int = 1 << 18
    max_item_features: int = 16
    cold_start_centroid: bool = True
    full_rank_threshold: int = 5000
    n_clusters: int = 0
    n_probe: int = 4
    ivf_max_candidates: int = 300
    n_trending: int = 50
    ivf_refresh_events: int = 20_000
    cache_refresh_events: int = 1000
    cache_refresh_max: int = 4
    trend_refresh_events: int = 500
    drift_delta: float = 0.002
    drift_lr_boost: float = 1.0
    drift_boost_events: int = 5000
    drift_half_life_factor: float = 1.0
    knn_slots: int = 256
    knn_window: int = 20
    knn_recent: int = 20
    knn_decay: float = 0.85
    knn_window_decay: float = 0.95
    knn_candidates: int = 100
    knn_prior: float = 3.0
    pop_prior: float = 0.4
    history_capacity: int = 1 << 24
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready echo of the configuration (every field is a scalar: no deep copy)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def validate(self) -> None:
        """Raise ValueError on values the engine cannot run with."""
        if self.k < 1 or self.n_buckets < 64 or self.max_item_features < 1:
            raise ValueError("k >= 1, n_buckets >= 64 and max_item_features >= 1 required")
        if self.optimizer not in ("adagrad", "sgd"):
            raise ValueError(f"optimizer must be 'adagrad' or 'sgd', not {self.optimizer!r}")
        if self.negative_sampling not in ("uniform", "popularity"):
            raise ValueError("negative_sampling must be 'uniform' or 'popularity'")
        if self.half_life_events <= 0 or self.n_neighbours < 1 or self.n_recent < 1:
            raise ValueError("half_life_events > 0, n_neighbours >= 1, n_recent >= 1 required")
        if not 0 <= self.n_seq_fields <= 8 or self.n_negatives < 0:
            raise ValueError("0 <= n_seq_fields <= 8 and n_negatives >= 0 required")
        if not 1 <= self.n_probe <= 64:
            raise ValueError("1 <= n_probe <= 64 required (IVF buckets probed per request)")
        if min(self.knn_slots, self.knn_window, self.knn_recent, self.knn_candidates) < 0:
            raise ValueError("knn_slots, knn_window, knn_recent, knn_candidates must be >= 0")
        if not 0.0 <= self.bpr_weight < math.inf:
            raise ValueError("a finite bpr_weight >= 0 required")
        if not 0.0 <= self.knn_window_decay < math.inf or not math.isfinite(self.pop_prior):
            raise ValueError("a finite knn_window_decay >= 0 and a finite pop_prior required")
        if not 0.0 <= self.knn_decay < math.inf or not math.isfinite(self.knn_prior):
            raise ValueError("a finite knn_decay >= 0 and a finite knn_prior required")
        h = self.history_capacity
        if h < 256 or h & (h - 1):
            raise ValueError("history_capacity must be a power of two >= 256")
