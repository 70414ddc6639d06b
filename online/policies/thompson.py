"""Thompson-style exploration: rank by a draw from a Gaussian posterior around the score.

Each candidate's value is ``theta_i ~ N(score_i, sigma0^2 / (1 + n_i))`` where
``n_i`` counts the feedback observed for item i (``update``), so uncertainty
shrinks with observations; the slate is the top-k of one draw. Propensities
``P(i in slot s)`` are a Monte-Carlo estimate over ``n_draws`` independent
posterior draws (seeded from the call's seed; ``probabilities`` uses
``mc_seed``), unbiased with standard error <= 0.5 / sqrt(n_draws); the
propensity of a shown item is floored at 1 / (n_draws + 1) so it is never 0.

Counts are kept for at most ``max_items`` items (least recently updated evicted).

>>> from streamrec.online.policies.thompson import GaussianThompson
>>> pol = GaussianThompson(sigma0=1.0)
>>> for _ in range(50):
...     pol.update("a", 1.0)
>>> float(pol.sigma(["a", "b"])[0]) < float(pol.sigma(["a", "b"])[1])
True
>>> len(pol.select(["a", "b", "c"], [0.3, 0.2, 0.1], k=2, seed=1))
2
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamrec.online.policies.base import Policy
from streamrec.online.policies.gaussian_kernels import gaussian_topk_draw, gaussian_topk_marginals

_MC_SALT = 0x2545F491


class GaussianThompson(Policy):
    """Top-k of a Gaussian posterior sample with per-item shrinking uncertainty."""

    def __init__(self, sigma0: float = 1.0, n_draws: int = 64, mc_seed: int = 12345, max_items: int = 1_000_000):
        if not sigma0 >= 0.0:
            raise ValueError("sigma0 must be >= 0")
        self.sigma0 = float(sigma0)
        self.n_draws = int(n_draws)
        self.mc_seed = int(mc_seed)
        self.max_items = int(max_items)
        self.counts: OrderedDict[str, float] = OrderedDict()
        self.name = f"thompson:{self.sigma0:g}"

    def sigma(self, items: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Posterior standard deviation per item: sigma0 / sqrt(1 + n_i)."""
        get = self.counts.get
        n = np.fromiter((get(str(i), 0.0) for i in items), dtype=np.float64, count=len(items))
        return self.sigma0 / np.sqrt(1.0 + n)

    def update(self, item: Any, reward: float) -> None:
        key = str(item)
        self.counts[key] = self.counts.pop(key, 0.0) + 1.0
        if len(self.counts) > self.max_items:
            self.counts.popitem(last=False)

    def _draw(self, items, clean, k, seed, with_props):
        mu = np.clip(clean, -1e150, 1e150)
        sig = self.sigma(items)
        idx = gaussian_topk_draw(mu, sig, k, seed)
        props = None
        if with_props:
            props = gaussian_topk_marginals(mu, sig, k, self.n_draws, seed ^ _MC_SALT)[idx, np.arange(k)]
            props = np.maximum(props, 1.0 / (self.n_draws + 1))
        return idx, props

    def _marginals(self, items, clean, k):
        return gaussian_topk_marginals(np.clip(clean, -1e150, 1e150), self.sigma(items), k, self.n_draws, self.mc_seed)

    def to_dict(self) -> dict:
        """JSON-able state (for recovery snapshots)."""
        return {"sigma0": self.sigma0, "counts": dict(self.counts)}

    def load_dict(self, data: dict) -> None:
        self.counts = OrderedDict((str(k), float(v)) for k, v in data.get("counts", {}).items())
