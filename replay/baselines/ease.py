"""EASE (Steck 2019) retrained periodically on all interactions so far, scored with a recency query.

Every ``retrain_every`` (1,000) events, before ranking event ``t`` with ``t % 1000 == 0``,
on the binary user x item matrix ``X`` of events ``0..t-1`` (items seen so far)::

    G = X^T X + lambda I,   P = G^-1,   B = I - P diag(1 / diag(P))   (so diag(B) = 0)

with lambda = 200 (``G`` is kept up to date every event as the co-occurrence counts of
:mod:`replay.baselines._neighbours`). Score of item ``j`` for user ``u``::

    score_t(j) = sum_{age < 50} 0.9 ** age * B[h_age, j]  (+ beta * T[h_0, j] / sum_k T[h_0, k])

with ``h_0, h_1, ...`` u's positives newest first, ``query_len=None`` for the whole history
with weight 1 (the classic EASE query). ``EASETransitions`` adds, with ``beta = 0.25``, the
last-item transition probabilities: counts ``T[p, j] = #{p -> j}`` updated every event,
normalised per row (raw counts, on another scale than ``B``, give 0.14 on ML-100K against
0.19 normalised). Items seen after the last retrain have ``B`` = 0. Compared
lexicographically with cumulative popularity, then pessimistically. Each retrain inverts an
``n_items`` square matrix (~1 s for ML-100K's 1,682 items), so EASE replays ~1k events/s.

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> pairs = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "z"), ("d", "x"), ("d", "y"), ("c", "x"),
...          ("c", "y")]
>>> ev = [ClickEvent(str(n), 1.7e9 + n, u, i) for n, (u, i) in enumerate(pairs)]
>>> m = EASE(lam=1.0, retrain_every=6)
>>> m.evaluate_and_learn(ev, np.ones(8, dtype=bool)).tolist()   # retrained at t=6: y > z for c
[0, 0, 2, 0, 1, 2, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from streamrec.replay.baselines._neighbours import (
    RecencyState,
    grow_square,
    learn_positive,
    recency_scores,
)
from streamrec.replay.baselines._stream import grow, rank_target_lex


@njit(cache=True)
def ease_chunk(
    users,
    items,
    positive,
    evaluate,
    weights,
    co,
    trans,
    trans_total,
    beta,
    popularity,
    scores,
    q_items,
    q_w,
    decay,
    last_item,
    h,
    n_seen,
    n_hist,
    stamp0,
    ranks,
):
    """Test-then-learn over one chunk with fixed ``weights`` (B); returns (n_seen, n_hist)."""
    for t in range(users.shape[0]):
        u = users[t]
        i = items[t]
        if evaluate[t] and positive[t]:
            recency_scores(u, weights, False, decay, q_items, q_w, n_seen, scores, h)
            p = last_item[u]
            if beta != 0.0 and p >= 0 and trans_total[p] > 0.0:
                row = trans[p]
                c = beta / trans_total[p]
                for j in range(n_seen):
                    scores[j] += c * row[j]
            ranks[t] = rank_target_lex(scores, popularity, n_seen, i, u, h, stamp0 + t + 1)
        if i >= n_seen:
            n_seen = i + 1
        if positive[t]:
            if beta != 0.0 and last_item[u] >= 0:
                trans[last_item[u], i] += 1.0
                trans_total[last_item[u]] += 1.0
            last_item[u] = i
            n_hist = learn_positive(u, i, co, popularity, h, stamp0 + t + 1, n_hist)
    return n_seen, n_hist


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """Closed-form EASE item-item weights ``B`` from the Gram matrix ``X^T X``."""
    g = np.array(gram, dtype=np.float64)
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = p / -np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b


class EASE:
    """Periodically retrained EASE with an age-weighted recent-items query; ``PrequentialModel``."""

    name = "ease"
    beta = 0.0

    def __init__(
        self, lam: float = 200.0, retrain_every: int = 1000, query_len: int | None = 50, decay: float = 0.9
    ) -> None:
        if retrain_every < 1 or not lam > 0:
            raise ValueError("retrain_every must be >= 1 and lam > 0")
        self.lam, self.retrain_every = float(lam), int(retrain_every)
        self.decay = float(decay) if query_len else 1.0
        self.state = RecencyState(query_len or 1)
        self.whole_history = query_len is None
        if self.whole_history:
            self.name = self.name + "-whole"  # the classic EASE query: the user's whole history
        self.weights = np.zeros((0, 0), dtype=np.float64)
        self.trans = np.zeros((0, 0), dtype=np.float32)  # counts
        self.trans_total = np.zeros(0, dtype=np.float64)
        self.last_item = np.zeros(0, dtype=np.int64)

    def retrain(self) -> None:
        """Refit ``B`` on every interaction learned so far."""
        n = self.state.index.n_seen
        self.weights = ease_weights(self.state.co[:n, :n], self.lam)

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        s, ix = self.state, self.state.index
        users, items, positive = s.encode(events)
        n_users, n_items = len(ix.user_ids), len(ix.item_ids)
        if self.whole_history:
            s.q_items = grow(s.q_items, ix.n_hist + len(events), 0)
            s.q_w = grow(s.q_w, ix.n_hist + len(events), 1.0)
        if self.beta:
            self.trans = grow_square(self.trans, n_items)
            self.trans_total = grow(self.trans_total, n_items, 0.0)
        self.last_item = grow(self.last_item, n_users, -1)
        evaluate = np.asarray(evaluate, dtype=np.bool_)
        ranks = np.zeros(len(events), dtype=np.int32)
        lo = 0
        while lo < len(events):
            t = ix.n_events
            if t > 0 and t % self.retrain_every == 0:
                self.retrain()
            hi = min(len(events), lo + self.retrain_every - t % self.retrain_every)
            ix.n_seen, ix.n_hist = ease_chunk(
                users[lo:hi],
                items[lo:hi],
                positive[lo:hi],
                evaluate[lo:hi],
                self.weights,
                s.co,
                self.trans,
                self.trans_total,
                self.beta,
                s.popularity,
                s.scores,
                s.q_items,
                s.q_w,
                self.decay,
                self.last_item,
                ix.histories(),
                ix.n_seen,
                ix.n_hist,
                ix.n_events,
                ranks[lo:hi],
            )
            ix.n_events += hi - lo
            lo = hi
        return ranks


class EASETransitions(EASE):
    """EASE (recency query) plus ``beta`` x last-item transition counts; ``PrequentialModel``."""

    name = "ease-trans"

    def __init__(self, beta: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.beta = float(beta)
