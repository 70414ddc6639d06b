"""Per-slot epsilon-greedy: slot by slot, with probability epsilon a uniform pick
among the remaining candidates, otherwise the best remaining one.

Exact slot marginals. They depend only on ranks, so they are computed once per
(n, k, epsilon) and cached. Track the frontier f (best remaining rank) after s
picks: all ranks below f are gone and the ``s - f`` removed ranks above f form a
uniform random subset of the ``n - 1 - f`` ranks above it. Then, with
``L = n - s`` candidates left,

    P(rank j in slot s) = sum_f P(f, s) * [ (1 - eps + eps / L) * 1[j = f]
                                           + eps / L * (1 - (s - f) / (n - 1 - f)) * 1[j > f] ]

and when the frontier is taken it jumps over the run of removed ranks above it,
whose length g has ``P(g >= t) = C(n-1-f-t, s-f-t) / C(n-1-f, s-f)``. Cost
O(k^2 n) once per (n, k); a call costs one sort and one lookup.

>>> from streamrec.online.policies.epsilon_greedy import EpsilonGreedy
>>> pol = EpsilonGreedy(epsilon=0.2)
>>> P = pol.probabilities(["a", "b", "c", "d"], [4.0, 3.0, 2.0, 1.0], k=2)
>>> [round(float(x), 3) for x in P[:, 0]]  # slot 1: 1 - eps + eps/4 for the best, eps/4 else
[0.85, 0.05, 0.05, 0.05]
>>> bool(abs(P.sum(axis=0) - 1).max() < 1e-12)
True
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from streamrec.online.policies.base import Policy, rank_order
from streamrec.online.policies.sampling import epsilon_greedy_marginals, epsilon_greedy_select


class EpsilonGreedy(Policy):
    """Per-slot epsilon-greedy with exact position-wise propensities."""

    def __init__(self, epsilon: float = 0.1, cache_size: int = 64):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.epsilon = float(epsilon)
        self.name = f"egreedy:{self.epsilon:g}"
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def rank_marginals(self, n: int, k: int) -> np.ndarray:
        """P(rank j in slot s), shape [n, min(k, n)], cached."""
        key = (n, k)
        m = self._cache.get(key)
        if m is None:
            m = epsilon_greedy_marginals(n, k, self.epsilon)
            self._cache[key] = m
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return m

    def _draw(self, items, clean, k, seed, with_props):
        return epsilon_greedy_select(rank_order(clean), self.rank_marginals(clean.shape[0], k), k, self.epsilon, seed)

    def _marginals(self, items, clean, k):
        n = clean.shape[0]
        out = np.empty((n, k))
        out[rank_order(clean)] = self.rank_marginals(n, k)
        return out
