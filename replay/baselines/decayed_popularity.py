"""Exponentially decayed popularity: recent positives weigh more (half-life in events).

    score_t(j) = sum_{s < t, item_s = j, positive} 2 ** (-(t - s) / half_life)

Stored up to a common factor: every event multiplies a running ``scale`` by
2 ** (1 / half_life) and a positive adds ``scale`` to its item; when ``scale``
exceeds 1e100 all scores are divided by it (ranking is scale-free).

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> ev = [ClickEvent(str(n), 1.7e9 + n, u, i) for n, (u, i) in
...       enumerate([("a", "x"), ("a", "x"), ("b", "y"), ("c", "z")])]
>>> DecayedPopularity(half_life=1.0).evaluate_and_learn(ev, np.ones(4, dtype=bool)).tolist()
[0, 0, 0, 0]
>>> m = DecayedPopularity(half_life=1.0); _ = m.evaluate_and_learn(ev, np.zeros(4, dtype=bool))
>>> later = [ClickEvent("e", 1.8e9, "d", "x")]   # x: 2 old hits, y and z: 1 recent hit each
>>> m.evaluate_and_learn(later, np.ones(1, dtype=bool)).tolist()
[3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from streamrec.replay.baselines._stream import (
    StreamIndex,
    append_history,
    grow,
    rank_target,
)

RESCALE_AT = 1e100


@njit(cache=True)
def decayed_popularity_chunk(
    users,
    items,
    positive,
    evaluate,
    scores,
    growth,
    scale,
    h,
    n_seen,
    n_hist,
    stamp0,
    ranks,
):
    """Test-then-learn over one chunk; returns the updated (scale, n_seen, n_hist)."""
    for t in range(users.shape[0]):
        u = users[t]
        i = items[t]
        if evaluate[t] and positive[t]:
            ranks[t] = rank_target(scores, n_seen, i, u, h, stamp0 + t + 1)
        if i >= n_seen:
            n_seen = i + 1
        scale *= growth
        if positive[t]:
            scores[i] += scale
            n_hist = append_history(u, i, h, n_hist)
        if scale > RESCALE_AT:
            inv = 1.0 / scale
            for j in range(n_seen):
                scores[j] *= inv
            scale = 1.0
    return scale, n_seen, n_hist


class DecayedPopularity:
    """Popularity with exponential decay; implements ``PrequentialModel``."""

    name = "decayed"

    def __init__(self, half_life: float = 10_000.0) -> None:
        if not half_life > 0:
            raise ValueError("half_life must be > 0")
        self.half_life = float(half_life)
        self.growth = 2.0 ** (1.0 / self.half_life)
        self.scale = 1.0
        self.index = StreamIndex()
        self.scores = np.zeros(0, dtype=np.float64)

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        ix = self.index
        users, items, positive = ix.encode(events)
        self.scores = grow(self.scores, len(ix.item_ids), 0.0)
        ranks = np.zeros(len(events), dtype=np.int32)
        self.scale, ix.n_seen, ix.n_hist = decayed_popularity_chunk(
            users,
            items,
            positive,
            np.asarray(evaluate, dtype=np.bool_),
            self.scores,
            self.growth,
            self.scale,
            ix.histories(),
            ix.n_seen,
            ix.n_hist,
            ix.n_events,
            ranks,
        )
        ix.n_events += len(events)
        return ranks
