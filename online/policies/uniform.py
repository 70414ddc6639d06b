"""Uniform random slate: k distinct candidates drawn uniformly without replacement.

Every candidate has ``P[i, s] = 1 / n`` in every slot s (scores are ignored).

>>> from streamrec.online.policies.uniform import UniformRandom
>>> slate = UniformRandom().select(["a", "b", "c", "d"], [0, 0, 0, 0], k=2, seed=7)
>>> len(set(slate.items)), slate.propensities.tolist()
(2, [0.25, 0.25])
"""

from __future__ import annotations

import numpy as np

from streamrec.online.policies.base import Policy
from streamrec.online.policies.sampling import epsilon_greedy_draw


class UniformRandom(Policy):
    """Uniform exploration (epsilon-greedy with epsilon = 1, over candidate order)."""

    name = "uniform"

    def _draw(self, items, clean, k, seed, with_props):
        n = clean.shape[0]
        return epsilon_greedy_draw(n, k, 1.0, seed), np.full(k, 1.0 / n)

    def _marginals(self, items, clean, k):
        return np.full((clean.shape[0], k), 1.0 / clean.shape[0])
