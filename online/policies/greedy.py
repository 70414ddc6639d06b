"""Greedy: the top-k candidates by score, no exploration.

Propensity of the shown item in slot s is 1, of every other candidate 0:
``P[i, s] = 1[rank(i) == s]``.

>>> from streamrec.online.policies.greedy import Greedy
>>> slate = Greedy().select(["a", "b", "c"], [0.1, 0.9, 0.5], k=2, seed=0)
>>> list(slate.items), slate.propensities.tolist()
(['b', 'c'], [1.0, 1.0])
"""

from __future__ import annotations

import numpy as np

from streamrec.online.policies.base import Policy, rank_order


class Greedy(Policy):
    """Deterministic top-k (stable ties)."""

    name = "greedy"

    def _draw(self, items, clean, k, seed, with_props):
        return rank_order(clean)[:k], np.ones(k)

    def _marginals(self, items, clean, k):
        out = np.zeros((clean.shape[0], k))
        out[rank_order(clean)[:k], np.arange(k)] = 1.0
        return out
