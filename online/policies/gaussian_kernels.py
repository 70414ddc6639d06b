"""Numba kernels of Thompson sampling over a slate: top-k of ``theta = mu + sigma * z``.

``gaussian_topk_draw`` returns the candidate indices of the top-k of one draw
(``z`` standard normal from the counter-based generator of
:mod:`online.policies.sampling`; ties go to the lower index);
``gaussian_topk_marginals`` averages the slot indicators over ``n_draws``
independent draws: ``P[i, s] ~= (1/D) sum_d 1[draw d puts i in slot s]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from streamrec.online.policies.sampling import splitmix_normal


@njit(cache=True)
def gaussian_topk_draw(mu: np.ndarray, sigma: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of the top-k of one posterior sample ``mu + sigma * z`` (ties: lower index)."""
    n = mu.shape[0]
    k = min(k, n)
    theta = np.empty(n)
    for i in range(n):
        theta[i] = mu[i] + sigma[i] * splitmix_normal(seed, i)
    out = np.empty(k, np.int64)
    taken = np.zeros(n, np.bool_)
    for s in range(k):
        best = -1
        for i in range(n):
            if not taken[i] and (best < 0 or theta[i] > theta[best]):
                best = i
        taken[best] = True
        out[s] = best
    return out


@njit(cache=True)
def gaussian_topk_marginals(mu: np.ndarray, sigma: np.ndarray, k: int, n_draws: int, seed: int) -> np.ndarray:
    """Monte-Carlo slot marginals [n, k] of Thompson top-k over ``n_draws`` samples."""
    n = mu.shape[0]
    k = min(k, n)
    out = np.zeros((n, k))
    for d in range(n_draws):
        idx = gaussian_topk_draw(mu, sigma, k, seed + d * 1000003)
        for s in range(k):
            out[idx[s], s] += 1.0
    return out / max(n_draws, 1)
