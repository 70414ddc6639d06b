"""Which model settings may change on a live state, and the config a run gets.

A state stores its settings (``meta["config"]``, JSON). On restart the requested
settings (:func:`streamrec.state.settings.requested_settings`) are laid over the
stored ones; a requested value that differs is applied only if the setting is in
:data:`SAFE_SETTINGS` -- settings the kernels read afresh from the ``hp`` vector or
at the next refresh, so a new value simply governs the next events. Every other
setting shapes stored arrays (``k``, ``n_buckets``, ``max_item_features``,
``n_neighbours``, ``occurrence_window``, ``n_trending``, ``knn_slots``, ``history_capacity``: the
history ring's slots), is used only when the state
is created (``seed``, ``init_std``), or changes what stored numbers mean
(``optimizer``: AdaGrad accumulators; ``n_seq_fields``: FM feature fields); a change
raises :class:`SettingsConflict`.

>>> resolve({"k": 16, "lr": 0.1}, {"lr": 0.05}).lr
0.05
>>> resolve({"k": 16}, {"k": 32})
Traceback (most recent call last):
...
streamrec.state.settings_guard.SettingsConflict: model setting k is 16 in the existing state but 32 was requested; k cannot change on a live model (it fixes the shape of stored arrays or the meaning of learned values): drop the setting to keep 16, or use a new --state
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streamrec.online.config import RecommenderConfig
from streamrec.state.disk import live_db_path
from streamrec.state.settings import (
    SETTING_TYPES,
    SettingsError,
    check_config,
    requested_settings,
    split_sets,
)
from streamrec.state.versions import _read_meta

#: settings a live model takes from the next event on (learning, retrieval, schedules, drift)
SAFE_SETTINGS = frozenset(
    {
        # learning rates, regularisation, clipping, negatives
        "lr",
        "intercept_lr",
        "adagrad_eps",
        "l2_w",
        "l2_v",
        "clip_grad",
        "clip_param",
        "n_negatives",
        "negative_sampling",
        "bpr_weight",
        # transition weighting and popularity decay (the engine itself changes the half-life on drift)
        "trans_decay",
        "n_recent",
        "half_life_events",
        "cold_start_centroid",
        # item-kNN: co-occurrence window, query length and weights (knn_slots is structural)
        "knn_window",
        "knn_recent",
        "knn_decay",
        "knn_prior",
        "knn_window_decay",
        "knn_candidates",  # how many kNN items join the retrieval candidates (read per request)
        # ranking-time prior on decayed popularity
        "pop_prior",
        # retrieval and refresh schedules
        "full_rank_threshold",
        "n_clusters",
        "n_probe",
        "ivf_max_candidates",
        "ivf_refresh_events",
        "cache_refresh_events",
        "cache_refresh_max",
        "trend_refresh_events",
        # drift reaction
        "drift_delta",
        "drift_lr_boost",
        "drift_boost_events",
        "drift_half_life_factor",
    }
)


class SettingsConflict(SettingsError):
    """A requested setting differs from the stored one and cannot change on a live model."""


def resolve(stored: Mapping[str, Any] | None, requested: Mapping[str, Any]) -> RecommenderConfig:
    """The config for a run: ``requested`` on a new state, else stored + safe changes."""
    if stored is None:
        return check_config(requested)
    merged = {k: v for k, v in stored.items() if k in SETTING_TYPES}  # keys of older versions dropped
    for key, new in requested.items():
        old = merged.get(key, getattr(RecommenderConfig(), key))
        if new != old and key not in SAFE_SETTINGS:
            raise SettingsConflict(
                f"model setting {key} is {old!r} in the existing state but {new!r} was requested; "
                f"{key} cannot change on a live model (it fixes the shape of stored arrays or the "
                f"meaning of learned values): drop the setting to keep {old!r}, or use a new --state"
            )
        merged[key] = new
    return check_config(merged)


def stored_settings(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The settings in a state's meta (None for a new state)."""
    if not meta or "config" not in meta:
        return None
    raw = meta["config"]
    return dict(json.loads(raw) if isinstance(raw, str) else raw)


def config_for_run(meta: Mapping[str, Any] | None, model_config: str, model_set: str) -> RecommenderConfig:
    """The model config of a run (``RunConfig.model_config`` / ``model_set``) over a state's meta."""
    return resolve(stored_settings(meta), requested_settings(model_config, split_sets(model_set)))


def check_state_settings(state_dir: str | Path, model_config: str, model_set: str) -> RecommenderConfig:
    """:func:`config_for_run` against the model on disk (read-only): the start-up check."""
    db = live_db_path(state_dir)
    return config_for_run(_read_meta(db) if db.exists() else None, model_config, model_set)
