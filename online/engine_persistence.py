"""Persistence of :class:`online.recommender.Recommender` (a mixin): export, restore,
dirty-row tracking. The state is the flat arrays of ``online.layout`` plus vocabularies
and a few counters; ``from_state(export_state())`` continues bitwise identically.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from streamrec.online import layout as L
from streamrec.online.config import RecommenderConfig
from streamrec.online.drift import DriftMonitor
from streamrec.online.hashing import FeatureHasher
from streamrec.online.model_state import ModelState


class PersistenceMixin:
    """``export_state``, ``from_state``, ``dirty_rows``, ``clear_dirty``."""

    def export_state(self, copy: bool = True) -> ModelState:
        """The state (arrays, vocab, meta); ``copy=False`` shares the live arrays (cheap,
        valid until the next learning call)."""
        cnt = self._a["cnt"]
        meta: dict[str, Any] = {
            "format": 1, "name": self.name, "n_items": int(cnt[L.C_ITEMS]),
            "n_users": int(cnt[L.C_USERS]), "n_events": int(cnt[L.C_EVENTS]),
            "boost_until": int(self._boost_until), "drift_count": int(self._drift.n_detections),
            "config": json.dumps(self.config.to_dict(), sort_keys=True),
        }
        arrays = {n: (a.copy() if copy else a) for n, a in self._a.items()}
        arrays["drift_values"] = self._drift.values()
        return ModelState(arrays, {"users": list(self._user_ids), "items": list(self._item_ids)}, meta)

    @classmethod
    def from_state(cls, state: ModelState, config: RecommenderConfig | None = None) -> "Recommender":
        """A recommender that continues exactly where ``state`` was exported."""
        if config is None:
            config = RecommenderConfig(**json.loads(str(state.meta["config"])))
        rec = cls.__new__(cls)
        rec.config = config
        config.validate()
        rec._hasher = FeatureHasher(config.n_buckets)
        rec._specs = L.array_specs(config.k, config.n_buckets, config.max_item_features,
                                   config.n_neighbours, config.occurrence_window)
        rec._a = {n: np.array(state.arrays[n], dtype=s[1], copy=True) for n, s in rec._specs.items()}
        rec._item_ids = list(state.vocab.get("items", []))
        rec._user_ids = list(state.vocab.get("users", []))
        rec._items = {s: i for i, s in enumerate(rec._item_ids)}
        rec._users = {s: i for i, s in enumerate(rec._user_ids)}
        rec._drift = DriftMonitor(config.drift_delta)
        rec._drift.restore(state.arrays.get("drift_values", np.zeros(0)),
                           int(state.meta.get("drift_count", 0)))
        rec._boost_until = int(state.meta.get("boost_until", -1))
        rec._attr_seen = {}
        rec._setup()
        return rec

    def dirty_rows(self) -> dict[str, np.ndarray]:
        """Array name -> sorted unique int64 rows changed since :meth:`clear_dirty`."""
        out: dict[str, np.ndarray] = {}
        idx = {g: np.flatnonzero(d).astype(np.int64) for g, d in self._dirty.items()}
        for n, s in self._specs.items():
            g = s[0]
            out[n] = np.arange(self._a[n].shape[0], dtype=np.int64) if g == "misc" else idx[g]
        out["drift_values"] = np.arange(len(self._drift.values()), dtype=np.int64)
        return out

    def clear_dirty(self) -> None:
        """Forget which rows changed (call after persisting them)."""
        for d in self._dirty.values():
            d[:] = False
