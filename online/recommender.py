"""Streaming recommender: hashed-feature FM + transitions + popularity, all flat arrays.

Score of item ``j`` for a request (user side ``A`` = user id, context, last items)::

    logit(u, j) = w0 + sum_f w_f x_f + FM pairs(A, B, C)      (see ``online.fm_kernels``)

with item side ``B`` = item id + attributes and numeric ``C`` = sqrt transition counts from
the user's last items to ``j`` (space-saving top-M tables) and log (decayed, cumulative)
popularity of ``j``. Learned by logistic AdaGrad (or SGD) on each positive and
``n_negatives`` sampled negatives; impression/skip events are negatives. Above
``full_rank_threshold`` items, ranking is two-stage (``online.retrieval``). All state is
one ``EngineState`` of flat arrays (``online.engine_state``) plus a ``Catalog``
(``online.catalog``), exported by ``export_state`` (``online.persistence``).

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.online import persistence
from streamrec.online.catalog import Catalog, ItemRows
from streamrec.online.config import RecommenderConfig
from streamrec.online.drift import DriftMonitor
from streamrec.online.encoding import clean_id
from streamrec.online.engine_kernel import Outputs, init_new_items, run_batch
from streamrec.online.engine_ranking import predict_logit, rank_query
from streamrec.online.engine_state import (
    EngineState,
    build_state,
    capacity,
    grow,
    initial_arrays,
)
from streamrec.online.hyper import Hyper, hyper
from streamrec.online.item_cache import write_all_item_rows
from streamrec.online.jit import FastCall
from streamrec.online.model_state import ModelState
from streamrec.online.retrieval import ivf_build
from streamrec.online.scratch import new_scratch

__all__ = ["BatchResult", "ModelState", "Recommender", "RecommenderConfig"]


@dataclass
class BatchResult:
    """Per-event outputs of :meth:`Recommender.process_batch`: ``cand_idx[e]`` the dense
    indices of event ``e``'s top candidates (best first, -1 past the last) into
    ``item_ids``, ``cand_scores[e]`` their scores."""

    target_rank: np.ndarray
    cand_idx: np.ndarray
    cand_scores: np.ndarray
    learned: np.ndarray
    item_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def cand_items(self) -> list[list[str]]:
        """The candidates' item ids per event (built on access: the flow maps only the
        items it shows)."""
        ids = self.item_ids
        return [[ids[j] for j in row if j >= 0] for row in self.cand_idx.tolist()]


class Recommender:
    """Online FM recommender over plain dicts; see the module docstring."""

    name: str = "streamrec-fm"

    def __init__(
        self,
        config: RecommenderConfig | None = None,
        parts: persistence.EngineParts | None = None,
    ) -> None:
        """A fresh engine for ``config``, or one made of restored ``parts``."""
        if parts is None:
            cfg = config or RecommenderConfig()
            cfg.validate()
            parts = persistence.EngineParts(
                cfg,
                build_state(initial_arrays(cfg), cfg),
                Catalog(cfg.n_buckets, cfg.max_item_features),
                DriftMonitor(cfg.drift_delta),
                -1,
            )
        self.config = parts.config
        self._st: EngineState = parts.state
        self.catalog = parts.catalog
        self._drift = parts.drift
        self._boost_until = parts.boost_until
        self._scratch = self._new_scratch()
        self._hypers: tuple[RecommenderConfig | None, dict[bool, Hyper]] = (None, {})
        self._run_batch = FastCall(run_batch)

    # ------------------------------------------------------------------ internals
    def _new_scratch(self):
        c = self.config
        return new_scratch(
            capacity(self._st, "item"),
            c.k,
            max(c.n_recent, c.n_seq_fields, c.knn_recent, c.knn_window),
            c.n_negatives,
            c.max_item_features,
        )

    def _hyper(self) -> Hyper:
        """The kernels' hyper-parameters, built once per config (replace ``config`` as a
        whole to change it, as ``dataclasses.replace`` does) and drift-boost state."""
        boosted = int(self._st.ctr[0]["events"]) < self._boost_until
        cfg, built = self._hypers
        if cfg is not self.config:
            cfg, built = self._hypers = (self.config, {})
        hp = built.get(boosted)
        if hp is None:
            hp = built[boosted] = hyper(cfg, boosted)
        return hp

    def _parts(self) -> persistence.EngineParts:
        return persistence.EngineParts(self.config, self._st, self.catalog, self._drift, self._boost_until)

    def _sync_catalog(self, n_hist_rows: int = 0) -> None:
        """Grow the state to the catalog's size (and ``n_hist_rows`` more history rows)."""
        cat, cfg = self.catalog, self.config
        c = self._st.ctr[0]
        st = grow(self._st, cfg, "item", len(cat.item_ids))
        st = grow(st, cfg, "user", len(cat.user_ids))
        st = grow(st, cfg, "hist", min(int(c["hist"]) + n_hist_rows + 1, cfg.history_capacity))
        resized = capacity(st, "item") != capacity(self._st, "item")
        self._st = st
        if resized:
            self._scratch = self._new_scratch()
        c = st.ctr[0]
        c["items"], c["users"] = len(cat.item_ids), len(cat.user_ids)

    def _write_item_rows(self, ir: ItemRows, new_only: bool = False) -> None:
        if ir.item.shape[0]:
            write_all_item_rows(ir, self._st.fm, self._st.items, new_only)

    # ------------------------------------------------------------------ learning

    def process_batch(
        self,
        events: Sequence,
        n_candidates: int = 50,
        rank_before: bool = False,
        evaluate: np.ndarray | None = None,
    ) -> BatchResult:
        """Rank (optionally) then learn each event in order; top candidates after learning.

        ``target_rank[i]``: 1-based rank of the event's item among items observed earlier
        and not yet seen by the user, scored before learning it (0 = miss / not ranked).
        """
        events = list(events)
        n = len(events)
        n_top = max(int(n_candidates), 0)
        batch, item_rows = self.catalog.encode(events, evaluate)
        self._sync_catalog(n)
        self._write_item_rows(item_rows, new_only=True)  # changes: inside run_batch, in order
        out = Outputs.empty(n, max(n_top, 1))
        hp, st, sc = self._hyper(), self._st, self._scratch
        self._run_batch((st, sc, hp), batch, item_rows, st, sc, hp, bool(rank_before), n_top, out)
        self._monitor(rank_before, batch.evaluate, batch.label, out.learned, out.rank, out.loss)
        return BatchResult(out.rank, out.idx[:, :n_top], out.score[:, :n_top], out.learned, self.catalog.item_ids)

    def _monitor(self, rank_before, ev_eval, ev_label, learned, ranks, loss) -> None:
        drift = self._drift
        if rank_before:
            sel = learned & ev_eval & (ev_label > 0.5)
            signal = ((ranks > 0) & (ranks <= 10))[sel].astype(np.float64)
        else:
            sel = learned & (loss >= 0.0)
            signal = np.minimum(loss[sel] / 5.0, 1.0)
        cfg = self.config
        reacts = cfg.drift_lr_boost != 1.0 or cfg.drift_half_life_factor != 1.0
        if drift.update_many(signal) and reacts:
            self._boost_until = int(self._st.ctr[0]["events"]) + cfg.drift_boost_events

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
            self.catalog.item_index(item_id, dict(attributes))
            self.apply_item_rows()

    def apply_item_rows(self) -> None:
        """Grow the state to the catalog and write its queued item rows (new items enter
        the catalog at once)."""
        self._sync_catalog()
        self._write_item_rows(self.catalog.take_item_rows())
        init_new_items(len(self.catalog.item_ids), self._st, self._hyper())

    @property
    def state(self) -> EngineState:
        """The live engine state (replaced when a row group grows)."""
        return self._st

    # ------------------------------------------------------------------ serving
    def rank(
        self,
        user: str,
        context: Mapping | None = None,
        k: int = 10,
        exclude_seen: bool = True,
    ) -> list[tuple[str, float]]:
        """Top-``k`` ``(item, score)`` for ``user`` (unknown users get context + trending)."""
        uid = clean_id(user)
        k = max(int(k), 0)
        c, cfg, st = self._st.ctr[0], self.config, self._st
        if k == 0 or not c["ready"]:
            return []
        u = self.catalog.user_index(uid, False) if uid is not None else -1
        ctx = np.asarray(self.catalog.context_rows(uid or "", context), np.int64)
        out_idx = np.full(k, -1, np.int32)
        out_score = np.full(k, -np.inf)
        if c["ready"] > cfg.full_rank_threshold and c["n_clusters"] == 0:
            n_c = cfg.n_clusters or min(max(int(math.sqrt(c["ready"]) / 2), 8), st.ivf.centroids.shape[0])
            ivf_build(st.items, st.ivf, st.ctr, n_c, int(cfg.seed), 4)
        n = rank_query(
            u,
            ctx,
            bool(exclude_seen),
            st,
            self._scratch,
            self._hyper(),
            out_idx,
            out_score,
            k,
        )
        return [(self.catalog.item_ids[out_idx[t]], float(out_score[t])) for t in range(n)]

    def predict_one(self, user: str, item: str, context: Mapping | None = None) -> float:
        """Probability that ``user`` interacts with ``item`` (sigmoid of the FM logit)."""
        uid, iid = clean_id(user) or "", clean_id(item) or ""
        cat = self.catalog
        u = cat.user_index(uid, False)
        j = cat.items.get(iid, -1)
        ctx = np.asarray(cat.context_rows(uid, context), np.int64)
        item_rows = np.asarray(cat.item_rows(iid, None), np.int64)
        z = predict_logit(u, ctx, j, item_rows, self._st, self._scratch, self._hyper())
        z = min(max(z, -500.0), 500.0) if math.isfinite(z) else 0.0
        return 1.0 / (1.0 + math.exp(-z))

    # ------------------------------------------------------------------ persistence
    def export_state(self, copy: bool = True) -> ModelState:
        """The state (arrays, vocab, meta); ``copy=False`` shares the live arrays (cheap,
        valid until the next learning call)."""
        return persistence.export_state(self._parts(), self.name, copy)

    @classmethod
    def from_state(cls, state: ModelState, config: RecommenderConfig | None = None) -> Recommender:
        """A recommender that continues exactly where ``state`` was exported."""
        return cls(parts=persistence.from_state(state, config))

    def dirty_rows(self) -> dict[str, np.ndarray]:
        """Array name -> sorted unique int64 rows changed since :meth:`clear_dirty`."""
        return persistence.dirty_rows(self._parts())

    def clear_dirty(self) -> None:
        """Forget which rows changed (call after persisting them)."""
        persistence.clear_dirty(self._st)

    # ------------------------------------------------------------------ monitoring
    @property
    def events_learned(self) -> int:
        """Events learned in the model's life."""
        return int(self._st.ctr[0]["events"])

    @property
    def n_items(self) -> int:
        """Items in the catalog (rankable)."""
        return int(self._st.ctr[0]["ready"])

    @property
    def mean_loss(self) -> float:
        """Running mean log-loss of the learned examples (0 before the first)."""
        c = self._st.ctr[0]
        return float(c["loss_sum"] / c["loss_n"]) if c["loss_n"] else 0.0

    @property
    def drift(self) -> DriftMonitor:
        """The drift detector fed by the online loss (or hit signal)."""
        return self._drift

    def stats(self) -> dict[str, Any]:
        """Monitoring figures."""
        c = self._st.ctr[0]
        return {
            "events_learned": self.events_learned,
            "n_users": int(c["users"]),
            "n_items": self.n_items,
            "n_observed_items": int(c["obs"]),
            "online_hit_rate": float(c["hit_sum"] / c["hit_n"]) if c["hit_n"] else 0.0,
            "mean_loss": self.mean_loss,
            "drift_detected": bool(self._drift.drift_detected),
            "drift_count": int(self._drift.n_detections),
            "lr_multiplier": float(self._hyper().lr_mult),
        }
