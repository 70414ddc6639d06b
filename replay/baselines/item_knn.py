"""Recency-weighted item-kNN: cosine similarity on user co-occurrence, updated every event.

    sim(a, b)  = co[a, b] / sqrt(n_a * n_b)      (n_a = users who had a = co[a, a]; binary
                                                  user x item vectors, i.e. the standard cosine)
    score_t(j) = sum_{age < 20} 0.8 ** age * sim(h_age, j)
                 with h_0, h_1, ... the user's positives, newest first

Compared lexicographically with cumulative popularity, then pessimistically (protocol tie
rule). Co-occurrence spans each user's whole history; the query is only the last 20 items.

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> pairs = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "z"), ("d", "x"), ("d", "y"), ("c", "x"),
...          ("c", "y")]
>>> ev = [ClickEvent(str(n), 1.7e9 + n, u, i) for n, (u, i) in enumerate(pairs)]
>>> ItemKNN().evaluate_and_learn(ev, np.ones(8, dtype=bool)).tolist()   # c: y (2/sqrt(6)) > z (1/sqrt(3))
[0, 0, 2, 0, 1, 2, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from streamrec.replay.baselines._neighbours import (
    RecencyState,
    learn_positive,
    recency_scores,
)
from streamrec.replay.baselines._stream import rank_target_lex


@njit(cache=True)
def item_knn_chunk(
    users,
    items,
    positive,
    evaluate,
    co,
    popularity,
    scores,
    q_items,
    q_w,
    decay,
    h,
    n_seen,
    n_hist,
    stamp0,
    ranks,
):
    """Test-then-learn over one chunk; returns the updated (n_seen, n_hist)."""
    for t in range(users.shape[0]):
        u = users[t]
        i = items[t]
        if evaluate[t] and positive[t]:
            recency_scores(u, co, True, decay, q_items, q_w, n_seen, scores, h)
            ranks[t] = rank_target_lex(scores, popularity, n_seen, i, u, h, stamp0 + t + 1)
        if i >= n_seen:
            n_seen = i + 1
        if positive[t]:
            n_hist = learn_positive(u, i, co, popularity, h, stamp0 + t + 1, n_hist)
    return n_seen, n_hist


class ItemKNN:
    """Cosine item-kNN with an exponentially age-weighted recent-items query; ``PrequentialModel``."""

    name = "item-knn"

    def __init__(self, query_len: int = 20, decay: float = 0.8) -> None:
        if query_len < 1 or not decay > 0:
            raise ValueError("query_len must be >= 1 and decay > 0")
        self.decay = float(decay)
        self.state = RecencyState(query_len)

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        s, ix = self.state, self.state.index
        users, items, positive = s.encode(events)
        ranks = np.zeros(len(events), dtype=np.int32)
        ix.n_seen, ix.n_hist = item_knn_chunk(
            users,
            items,
            positive,
            np.asarray(evaluate, dtype=np.bool_),
            s.co,
            s.popularity,
            s.scores,
            s.q_items,
            s.q_w,
            self.decay,
            ix.histories(),
            ix.n_seen,
            ix.n_hist,
            ix.n_events,
            ranks,
        )
        ix.n_events += len(events)
        return ranks
