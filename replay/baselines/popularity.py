"""Popularity baseline: rank items by their cumulative count of positive events.

    score_t(j) = #{s < t : event s is positive and item_s = j}

Candidates and ties follow the protocol (see :mod:`replay.baselines._stream`).

>>> import numpy as np
>>> from streamrec.events import ClickEvent
>>> ev = [ClickEvent(str(n), 1.7e9 + n, u, i) for n, (u, i) in
...       enumerate([("a", "x"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "y")])]
>>> Popularity().evaluate_and_learn(ev, np.ones(5, dtype=bool)).tolist()
[0, 1, 0, 1, 1]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numba import njit

from replay.baselines._stream import StreamIndex, append_history, grow, rank_target


@njit(cache=True)
def popularity_chunk(users, items, positive, evaluate, counts, user_head, hist_next, hist_item,
                     mark, n_seen, n_hist, stamp0, ranks):
    """Test-then-learn over one chunk; returns the updated (n_seen, n_hist)."""
    for t in range(users.shape[0]):
        u = users[t]
        i = items[t]
        if evaluate[t] and positive[t]:
            ranks[t] = rank_target(counts, n_seen, i, u, user_head, hist_next, hist_item, mark,
                                   stamp0 + t + 1)
        if i >= n_seen:
            n_seen = i + 1
        if positive[t]:
            counts[i] += 1.0
            n_hist = append_history(u, i, user_head, hist_next, hist_item, n_hist)
    return n_seen, n_hist


class Popularity:
    """Cumulative popularity; implements ``PrequentialModel``."""

    name = "popularity"

    def __init__(self) -> None:
        self.index = StreamIndex()
        self.counts = np.zeros(0, dtype=np.float64)

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        ix = self.index
        users, items, positive = ix.encode(events)
        self.counts = grow(self.counts, len(ix.item_ids), 0.0)
        ranks = np.zeros(len(events), dtype=np.int32)
        ix.n_seen, ix.n_hist = popularity_chunk(
            users, items, positive, np.asarray(evaluate, dtype=np.bool_), self.counts,
            ix.user_head, ix.hist_next, ix.hist_item, ix.mark, ix.n_seen, ix.n_hist,
            ix.n_events, ranks)
        ix.n_events += len(events)
        return ranks
