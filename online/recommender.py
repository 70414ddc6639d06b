"""Streaming recommender: hashed-feature FM + transitions + popularity, all flat arrays.

Score of item ``j`` for a request (user side ``A`` = user id, context, last items)::

    logit(u, j) = w0 + sum_f w_f x_f + FM pairs(A, B, C)      (see ``online.fm_kernels``)

with item side ``B`` = item id + attributes and numeric ``C`` = sqrt transition counts from
the user's last items to ``j`` (space-saving top-M tables) and log (decayed, cumulative)
popularity of ``j``. Learned by logistic AdaGrad (or SGD) on each positive and
``n_negatives`` sampled negatives; impression/skip events are negatives. Above
``full_rank_threshold`` items, ranking is two-stage (``online.retrieval``). All state is
flat numpy arrays (``online.layout``), exported by ``export_state``.

>>> rec = Recommender(RecommenderConfig(n_buckets=4096, k=4))
>>> for t, (u, i) in enumerate([("a", "x"), ("b", "x"), ("a", "y"), ("c", "x")]):
...     rec.learn_one({"user": u, "item": i, "ts": 1.7e9 + t, "context": {"age": "30s"}})
>>> [item for item, _ in rec.rank("b", k=5)]
['y']
>>> rec.stats()["n_items"]
2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.online import layout as L
from streamrec.online.config import RecommenderConfig
from streamrec.online.drift import DriftMonitor
from streamrec.online.encoding import clean_id
from streamrec.online.engine_catalog import CatalogMixin
from streamrec.online.engine_kernel import init_new_items, run_batch
from streamrec.online.engine_persistence import PersistenceMixin
from streamrec.online.engine_ranking import predict_logit, rank_query
from streamrec.online.hashing import FeatureHasher
from streamrec.online.model_state import ModelState
from streamrec.online.retrieval import ivf_build

__all__ = ["BatchResult", "ModelState", "Recommender", "RecommenderConfig"]


@dataclass
class BatchResult:
    """Per-event outputs of :meth:`Recommender.process_batch`."""

    target_rank: np.ndarray
    cand_items: list[list[str]]
    cand_scores: np.ndarray
    learned: np.ndarray


class Recommender(CatalogMixin, PersistenceMixin):
    """Online FM recommender over plain dicts; see the module docstring."""

    name: str = "streamrec-fm"

    def __init__(self, config: RecommenderConfig | None = None) -> None:
        self.config = cfg = config or RecommenderConfig()
        cfg.validate()
        self._hasher = FeatureHasher(cfg.n_buckets)
        self._specs = L.array_specs(cfg.k, cfg.n_buckets, cfg.max_item_features,
                                    cfg.n_neighbours, cfg.occurrence_window)
        caps = {"fm": cfg.n_buckets, "item": 64, "user": 64, "hist": 256,
                "occ": cfg.occurrence_window}
        misc = {"glob": L.N_GLOB, "cnt": L.N_CNT, "ivf_centroids": L.N_CLUST_MAX,
                "ivf_head": L.N_CLUST_MAX, "trend": max(cfg.n_trending, 1),
                "ivf_ptr": L.N_CLUST_MAX + 1}
        self._a = {n: L.alloc(s, misc[n] if s[0] == "misc" else caps[s[0]])
                   for n, s in self._specs.items()}
        self._a["fm_w"], self._a["fm_v"] = L.init_fm(cfg.n_buckets, cfg.k, cfg.init_std, cfg.seed)
        self._a["glob"][L.G_SCALE] = 1.0
        self._items: dict[str, int] = {}
        self._item_ids: list[str] = []
        self._users: dict[str, int] = {}
        self._user_ids: list[str] = []
        self._drift = DriftMonitor(cfg.drift_delta)
        self._boost_until = -1
        self._attr_seen: dict[int, Any] = {}
        self._setup()

    # ------------------------------------------------------------------ internals
    def _setup(self) -> None:
        cfg = self.config
        self._ctx_cache: dict[str, tuple[Any, list[int]]] = {}
        groups = ("fm", "item", "user", "hist", "occ")
        self._dirty = {g: np.ones(self._cap(g), np.bool_) for g in groups}
        self._hp = L.hyperparameters(cfg)
        self._set_boost()
        self._scratch = L.new_scratch(self._cap("item"), cfg.k, max(cfg.n_recent, cfg.n_seq_fields),
                                      cfg.n_negatives, cfg.max_item_features)
        self._vsum_t = np.ascontiguousarray(self._a["item_vsum"].T)

    def _set_boost(self) -> None:
        cfg, hp = self.config, self._hp
        boosted = self._a["cnt"][L.C_EVENTS] < self._boost_until
        hp[L.HP_LR_MULT] = cfg.drift_lr_boost if boosted else 1.0
        h = cfg.half_life_events * (cfg.drift_half_life_factor if boosted else 1.0)
        hp[L.HP_GROWTH] = 2.0 ** (1.0 / h)

    def _cap(self, group: str) -> int:
        return next(a.shape[0] for n, a in self._a.items() if self._specs[n][0] == group)

    def _ensure(self, group: str, rows: int) -> None:
        cap = self._cap(group)
        if rows <= cap:
            return
        new = max(rows, 2 * cap)
        for n, s in self._specs.items():
            if s[0] == group:
                self._a[n] = L.grow(self._a[n], s, new)
        d = np.ones(new, np.bool_)
        d[:cap] = self._dirty[group]
        self._dirty[group] = d
        if group == "item":
            c = self.config
            self._scratch = L.new_scratch(new, c.k, max(c.n_recent, c.n_seq_fields),
                                          c.n_negatives, c.max_item_features)
            self._vsum_t = np.ascontiguousarray(self._a["item_vsum"].T)

    def _views(self):
        a, d = self._a, self._dirty
        fm = L.Fm(a["fm_w"], a["fm_v"], a["fm_gw"], a["fm_gv"], a["glob"], d["fm"])
        it = L.Items(a["item_key"], a["item_feats"], a["item_nf"], a["item_vsum"], a["item_wsum"],
                     a["item_pair"], a["item_pop"], a["item_lpop"], a["item_popd"], a["item_lpopd"],
                     a["item_obs"], a["nbr_item"], a["nbr_cnt"], a["item_cluster"],
                     a["item_clnext"], a["obs_list"], d["item"], self._vsum_t)
        us = L.Users(a["user_head"], d["user"])
        hs = L.Hist(a["hist_item"], a["hist_prev"], d["hist"])
        oc = L.Occ(a["occ_ring"], d["occ"])
        ivf = L.Ivf(a["ivf_centroids"], a["ivf_head"], a["trend"], a["ivf_order"], a["ivf_ptr"])
        return fm, it, us, hs, oc, ivf

    # ------------------------------------------------------------------ learning

    def process_batch(self, events: Sequence, n_candidates: int = 50,
                      rank_before: bool = False, evaluate: np.ndarray | None = None) -> BatchResult:
        """Rank (optionally) then learn each event in order; top candidates after learning.

        ``target_rank[i]``: 1-based rank of the event's item among items observed earlier
        and not yet seen by the user, scored before learning it (0 = miss / not ranked).
        """
        events = list(events)
        n = len(events)
        n_top = max(int(n_candidates), 0)
        ev_user, ev_item, ev_label, ev_nitems, ptr, ctx_rows = self._encode(events)
        self._ensure("hist", int(self._a["cnt"][L.C_HIST]) + n + 1)
        ev_eval = np.ones(n, np.bool_) if evaluate is None else np.asarray(evaluate, np.bool_).ravel()
        if ev_eval.shape[0] != n:
            raise ValueError(f"evaluate has {ev_eval.shape[0]} flags for {n} events")
        out_rank = np.zeros(n, np.int32)
        out_idx = np.full((n, max(n_top, 1)), -1, np.int32)
        out_score = np.full((n, max(n_top, 1)), -np.inf)
        learned = np.zeros(n, np.bool_)
        loss = np.full(n, -1.0)
        self._set_boost()
        fm, it, us, hs, oc, ivf = self._views()
        run_batch(ev_user, ev_item, ev_label, ev_nitems, ptr, ctx_rows, ev_eval, bool(rank_before),
                  n_top, fm, it, us, hs, oc, ivf, self._scratch, self._a["cnt"], self._hp,
                  int(self.config.seed), out_rank, out_idx, out_score, learned, loss)
        self._monitor(rank_before, ev_eval, ev_label, learned, out_rank, loss)
        ids = self._item_ids
        if n_top:
            cand = [[ids[j] for j in row if j >= 0] for row in out_idx[:, :n_top]]
        else:
            cand = [[] for _ in range(n)]
        return BatchResult(out_rank, cand, out_score[:, :n_top], learned)

    def _monitor(self, rank_before, ev_eval, ev_label, learned, ranks, loss) -> None:
        drift = self._drift
        if rank_before:
            sel = learned & ev_eval & (ev_label > 0.5)
            signal = ((ranks > 0) & (ranks <= 10))[sel].astype(np.float64)
        else:
            sel = learned & (loss >= 0.0)
            signal = np.minimum(loss[sel] / 5.0, 1.0)
        update = drift.update
        cfg = self.config
        reacts = cfg.drift_lr_boost != 1.0 or cfg.drift_half_life_factor != 1.0
        for x in signal.tolist():
            if update(x) and reacts:
                self._boost_until = int(self._a["cnt"][L.C_EVENTS]) + cfg.drift_boost_events

    def learn_one(self, event: Mapping[str, Any] | Any) -> None:
        """Learn one event (positive, or negative for impression/skip)."""
        self.process_batch([event], n_candidates=0)

    def evaluate_and_learn(self, events: Sequence, evaluate: np.ndarray) -> np.ndarray:
        """Prequential step: int32 ranks (0 = miss or not evaluated), learning every event."""
        res = self.process_batch(events, n_candidates=0, rank_before=True, evaluate=evaluate)
        return res.target_rank

    def add_item_metadata(self, item: str, attributes: Mapping[str, Any]) -> None:
        """Register or update an item's attributes (it becomes rankable at once)."""
        item_id = clean_id(item)
        if item_id is not None and isinstance(attributes, Mapping):
            self._item_index(item_id, dict(attributes))
            fm, it, *_ = self._views()
            init_new_items(len(self._item_ids), fm, it, self._a["cnt"], self._hp)

    # ------------------------------------------------------------------ serving
    def rank(self, user: str, context: Mapping | None = None, k: int = 10,
             exclude_seen: bool = True) -> list[tuple[str, float]]:
        """Top-``k`` ``(item, score)`` for ``user`` (unknown users get context + trending)."""
        uid = clean_id(user)
        k = max(int(k), 0)
        if k == 0 or not self._a["cnt"][L.C_READY]:
            return []
        u = self._user_index(uid, False) if uid is not None else -1
        ctx = np.asarray(self._context_rows(uid or "", context), np.int64)
        out_idx = np.full(k, -1, np.int32)
        out_score = np.full(k, -np.inf)
        fm, it, us, hs, oc, ivf = self._views()
        cnt, cfg = self._a["cnt"], self.config
        if cnt[L.C_READY] > cfg.full_rank_threshold and cnt[L.C_NCLUST] == 0:
            n_c = cfg.n_clusters or min(max(int(math.sqrt(cnt[L.C_READY]) / 2), 8), L.N_CLUST_MAX)
            ivf_build(it, ivf, cnt, n_c, int(cfg.seed), 4)
        n = rank_query(u, ctx, bool(exclude_seen), fm, it, us, hs, self._scratch, ivf,
                       self._a["cnt"], self._hp, out_idx, out_score, k)
        return [(self._item_ids[out_idx[t]], float(out_score[t])) for t in range(n)]

    def predict_one(self, user: str, item: str, context: Mapping | None = None) -> float:
        """Probability that ``user`` interacts with ``item`` (sigmoid of the FM logit)."""
        uid, iid = clean_id(user) or "", clean_id(item) or ""
        u = self._user_index(uid, False)
        j = self._items.get(iid, -1)
        ctx = np.asarray(self._context_rows(uid, context), np.int64)
        item_rows = np.asarray(self._item_rows(iid, None), np.int64)
        fm, it, us, hs, oc, ivf = self._views()
        z = predict_logit(u, ctx, j, item_rows, fm, it, us, hs, self._scratch, ivf,
                          self._a["cnt"], self._hp)
        z = min(max(z, -500.0), 500.0) if math.isfinite(z) else 0.0
        return 1.0 / (1.0 + math.exp(-z))

    # ------------------------------------------------------------------ monitoring
    def stats(self) -> dict[str, Any]:
        """Monitoring figures."""
        g, cnt = self._a["glob"], self._a["cnt"]
        return {
            "events_learned": int(cnt[L.C_EVENTS]), "n_users": int(cnt[L.C_USERS]),
            "n_items": int(cnt[L.C_READY]), "n_observed_items": int(cnt[L.C_OBS]),
            "online_hit_rate": float(g[L.G_HIT_SUM] / g[L.G_HIT_N]) if g[L.G_HIT_N] else 0.0,
            "mean_loss": float(g[L.G_LOSS_SUM] / g[L.G_LOSS_N]) if g[L.G_LOSS_N] else 0.0,
            "drift_detected": bool(self._drift.drift_detected),
            "drift_count": int(self._drift.n_detections),
            "lr_multiplier": float(self._hp[L.HP_LR_MULT]),
        }
