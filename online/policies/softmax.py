"""Softmax (Boltzmann) exploration: a Plackett-Luce slate over the scores.

``p_i = exp(score_i / T) / sum_j exp(score_j / T)``; slot by slot, candidate i
is drawn with probability ``p_i / (1 - sum of p over earlier slots)``.

Propensities: slot 1 is exact (``p_i``). Later slots have no cheap closed form;
they are a Rao-Blackwellised Monte-Carlo estimate over ``n_draws`` sampled
prefixes, ``P(i in slot s) ~= mean_d 1[i not in prefix_d] p_i / (1 - p(prefix_d))``,
seeded from the call's seed (``probabilities`` uses ``mc_seed``), so they are
reproducible. Each estimate is unbiased; its standard error shrinks as
1 / sqrt(n_draws). Probabilities are floored at 1e-12 and the Monte-Carlo
propensity of a shown item at 1 / (n_draws + 1), so a shown item never has
propensity 0 (bounded importance weights).

>>> from streamrec.online.policies.softmax import Softmax
>>> pol = Softmax(temperature=1.0)
>>> s = pol.select(["a", "b", "c"], [2.0, 1.0, 0.0], k=2, seed=3)
>>> s2 = pol.select(["a", "b", "c"], [2.0, 1.0, 0.0], k=2, seed=3)
>>> list(s.items) == list(s2.items)
True
>>> P = pol.probabilities(["a", "b", "c"], [2.0, 1.0, 0.0], k=1)
>>> [round(float(x), 3) for x in P[:, 0]]
[0.665, 0.245, 0.09]
"""

from __future__ import annotations

import numpy as np

from streamrec.online.policies.base import Policy
from streamrec.online.policies.sampling import plackett_luce_draw, plackett_luce_marginals

_MC_SALT = 0x5F3759DF


def softmax_probs(clean: np.ndarray, temperature: float, floor: float = 1e-12) -> np.ndarray:
    """Numerically stable softmax of ``clean / temperature``, each p_i >= ~floor (never NaN, never 0)."""
    z = np.clip(clean / temperature, -1e6, 1e6)
    e = np.exp(np.maximum(z - z.max(), -600.0))
    p = np.maximum(e / e.sum(), floor)
    return p / p.sum()


class Softmax(Policy):
    """Plackett-Luce sampling with temperature ``T``; Monte-Carlo marginals for slots >= 2."""

    def __init__(self, temperature: float = 0.1, n_draws: int = 128, mc_seed: int = 12345):
        if not temperature > 0.0:
            raise ValueError("temperature must be > 0")
        self.temperature = float(temperature)
        self.n_draws = int(n_draws)
        self.mc_seed = int(mc_seed)
        self.name = f"softmax:{self.temperature:g}"

    def _draw(self, items, clean, k, seed, with_props):
        p = softmax_probs(clean, self.temperature)
        idx = plackett_luce_draw(p, k, seed)
        props = None
        if with_props:
            m = plackett_luce_marginals(p, k, self.n_draws, seed ^ _MC_SALT)
            props = m[idx, np.arange(k)]
            props[1:] = np.maximum(props[1:], 1.0 / (self.n_draws + 1))
        return idx, props

    def _marginals(self, items, clean, k):
        p = softmax_probs(clean, self.temperature)
        return plackett_luce_marginals(p, k, self.n_draws, self.mc_seed)
