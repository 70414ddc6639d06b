"""Export and restore of the engine as plain functions over (EngineState, Catalog, config).

The persisted form is a ``ModelState``: the arrays of ``online.engine_state`` (plus the
drift detector's values), the vocabularies and a few counters with the configuration
echo in ``meta``; ``restore(export_state(...))`` continues bitwise identically. The item,
user and history arrays are exported cut to their rows in use and ``meta["capacity_<group>"]``
records their capacity, which the restore fills up again: a save costs O(rows in use), and
a doubling capacity adds nothing to it.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np

from streamrec.online.catalog import Catalog
from streamrec.online.config import RecommenderConfig
from streamrec.online.drift import DriftMonitor
from streamrec.online.engine_state import (
    IN_USE,
    EngineState,
    array_specs,
    build_state,
    capacity,
    dirty_flags,
    state_arrays,
)
from streamrec.online.model_state import ModelState


class EngineParts(NamedTuple):
    """Everything a recommender is made of."""

    config: RecommenderConfig
    state: EngineState
    catalog: Catalog
    drift: DriftMonitor
    boost_until: int


def export_state(parts: EngineParts, name: str, copy: bool = True) -> ModelState:
    """The state (arrays, vocab, meta); ``copy=False`` shares the live arrays (cheap,
    valid until the next learning call)."""
    st, cat, drift = parts.state, parts.catalog, parts.drift
    c = st.ctr[0]
    meta: dict[str, Any] = {
        "format": 1,
        "name": name,
        "n_items": int(c["items"]),
        "n_users": int(c["users"]),
        "n_events": int(c["events"]),
        "boost_until": int(parts.boost_until),
        "drift_count": int(drift.n_detections),
        "config": json.dumps(parts.config.to_dict(), sort_keys=True),
    }
    meta.update({f"capacity_{g}": capacity(st, g) for g in IN_USE})
    arrays = state_arrays(st, parts.config, copy, trim=True)
    arrays["drift_values"] = drift.values()
    return ModelState(arrays, {"users": list(cat.user_ids), "items": list(cat.item_ids)}, meta)


def from_state(state: ModelState, config: RecommenderConfig | None = None) -> EngineParts:
    """The parts of a recommender that continues exactly where ``state`` was exported."""
    if config is None:
        config = RecommenderConfig(**json.loads(str(state.meta["config"])))
    config.validate()
    caps = {g: int(state.meta.get(f"capacity_{g}", 0)) for g in IN_USE}
    st = build_state(state.arrays, config, capacity=caps)
    cat = Catalog(
        config.n_buckets,
        config.max_item_features,
        state.vocab.get("users", []),
        state.vocab.get("items", []),
        st.items.feats.copy(),
        st.items.nf.copy(),
    )
    drift = DriftMonitor(config.drift_delta)
    drift.restore(
        state.arrays.get("drift_values", np.zeros(0)),
        int(state.meta.get("drift_count", 0)),
    )
    return EngineParts(config, st, cat, drift, int(state.meta.get("boost_until", -1)))


def dirty_rows(parts: EngineParts) -> dict[str, np.ndarray]:
    """Array name -> sorted unique int64 rows changed since ``clear_dirty``."""
    idx = {g: np.flatnonzero(d).astype(np.int64) for g, d in dirty_flags(parts.state).items()}
    arrays = state_arrays(parts.state, parts.config, copy=False)
    specs = array_specs(parts.config)
    out = {
        n: idx[s.group] if s.group in idx else np.arange(arrays[n].shape[0], dtype=np.int64) for n, s in specs.items()
    }
    for n in ("glob", "cnt"):
        out[n] = np.arange(arrays[n].shape[0], dtype=np.int64)
    out["drift_values"] = np.arange(len(parts.drift.values()), dtype=np.int64)
    return out


def clear_dirty(st: EngineState) -> None:
    """Forget which rows changed (call after persisting them)."""
    for d in dirty_flags(st).values():
        d[:] = False
