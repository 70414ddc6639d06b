"""Seeded random kernels shared by the policies (Numba, flat arrays only).

Randomness comes from the engine's one counter-based generator,
``online.hashing.counter_uniform(seed, c, 0)`` for a counter ``c``, a uniform in [0, 1).
It needs no generator object, so a policy call with the same seed draws the same
numbers in any process, and a call costs nothing to set up.

Kernels:

* ``epsilon_greedy_draw``: one slate of the per-slot epsilon-greedy policy.
* ``epsilon_greedy_marginals``: exact slot marginals by rank (see
  :mod:`online.policies.epsilon_greedy` for the derivation).
* ``plackett_luce_draw``: one Plackett-Luce slate by sequential sampling.
* ``plackett_luce_marginals``: Rao-Blackwellised Monte-Carlo slot marginals,
  ``P(i in slot s) ~= mean_d 1[i not in prefix_d] p_i / (1 - sum p(prefix_d))``
  over ``n_draws`` sampled prefixes (exact for slot 1).
(The Thompson kernels are in :mod:`online.policies.gaussian_kernels`.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamrec.online.hashing import counter_uniform


@njit(cache=True)
def splitmix_uniform(seed: int, counter: int) -> float:
    """Uniform in [0, 1): draw ``counter`` of ``seed`` (``counter_uniform(seed, counter, 0)``)."""
    return counter_uniform(seed, counter, 0)


@njit(cache=True)
def splitmix_normal(seed: int, counter: int) -> float:
    """Standard normal from two uniforms (Box-Muller); uses counters 2c and 2c+1."""
    u1 = splitmix_uniform(seed, 2 * counter)
    u2 = splitmix_uniform(seed, 2 * counter + 1)
    if u1 < 1e-300:
        u1 = 1e-300
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def epsilon_greedy_draw(n: int, k: int, eps: float, seed: int) -> np.ndarray:
    """Ranks (0 = best) shown in slots 0..k-1: per slot, with prob. eps a uniform
    pick among the remaining ranks, else the best remaining rank."""
    k = min(k, n)
    out = np.empty(k, np.int64)
    taken = np.zeros(n, np.bool_)
    frontier = 0
    for s in range(k):
        if splitmix_uniform(seed, 2 * s) < eps:
            r = int(splitmix_uniform(seed, 2 * s + 1) * (n - s))
            if r >= n - s:
                r = n - s - 1
            j = 0
            while True:  # the r-th remaining rank
                if not taken[j]:
                    if r == 0:
                        break
                    r -= 1
                j += 1
        else:
            j = frontier
        taken[j] = True
        out[s] = j
        while frontier < n and taken[frontier]:
            frontier += 1
    return out


@njit(cache=True)
def epsilon_greedy_select(
    order: np.ndarray, rank_marginals: np.ndarray, k: int, eps: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate indices, slot propensities) of one epsilon-greedy slate, given the
    best-first ``order`` and the exact ``rank_marginals`` [n, >=k]."""
    ranks = epsilon_greedy_draw(order.shape[0], k, eps, seed)
    idx = np.empty(ranks.shape[0], np.int64)
    props = np.empty(ranks.shape[0])
    for s in range(ranks.shape[0]):
        idx[s] = order[ranks[s]]
        props[s] = rank_marginals[ranks[s], s]
    return idx, props


@njit(cache=True)
def _comb_ratio(a: int, b: int, t: int) -> float:
    """C(a - t, b - t) / C(a, b): probability that t given places of a are all in a uniform b-subset."""
    r = 1.0
    for i in range(t):
        r *= (b - i) / (a - i)
    return r


@njit(cache=True)
def epsilon_greedy_marginals(n: int, k: int, eps: float) -> np.ndarray:
    """Exact P(rank j shown in slot s), shape [n, k] (k clipped to n).

    State (f, s): f = best remaining rank after s picks. Given it, the s - f
    removed ranks above f form a uniform subset of ranks f+1..n-1.
    """
    k = min(k, n)
    out = np.zeros((n, k))
    pf = np.zeros(n + 1)  # distribution of the frontier before slot s
    pf[0] = 1.0
    for s in range(k):
        left = n - s
        nxt = np.zeros(n + 1)
        for f in range(min(s, n - 1) + 1):
            w = pf[f]
            if w == 0.0:
                continue
            above = n - 1 - f  # ranks above the frontier
            m = s - f  # of which removed
            p_front = (1.0 - eps) + eps / left
            out[f, s] += w * p_front
            if above > 0:
                keep = 1.0 - m / above
                pj = w * (eps / left) * keep
                for j in range(f + 1, n):
                    out[j, s] += pj
            # frontier removed: next frontier is f + 1 + g, g = run of removed ranks above f
            g = 0
            while g <= m and f + 1 + g <= n:
                p_ge = _comb_ratio(above, m, g)
                p_ge1 = _comb_ratio(above, m, g + 1) if g + 1 <= m else 0.0
                nxt[f + 1 + g] += w * p_front * (p_ge - p_ge1)
                g += 1
            # a non-frontier remaining rank removed: frontier stays
            nxt[f] += w * eps * (left - 1) / left
        pf = nxt
    return out


@njit(cache=True)
def plackett_luce_draw(p: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of one Plackett-Luce slate: slot by slot, pick i with prob. p_i / remaining mass."""
    n = p.shape[0]
    k = min(k, n)
    out = np.empty(k, np.int64)
    taken = np.zeros(n, np.bool_)
    mass = 0.0
    for i in range(n):
        mass += p[i]
    for s in range(k):
        u = splitmix_uniform(seed, s) * mass
        last = -1
        acc = 0.0
        pick = -1
        for i in range(n):
            if taken[i]:
                continue
            last = i
            acc += p[i]
            if u < acc:
                pick = i
                break
        if pick < 0:
            pick = last
        taken[pick] = True
        out[s] = pick
        mass -= p[pick]
        if mass < 0.0:
            mass = 0.0
    return out


@njit(cache=True)
def plackett_luce_marginals(p: np.ndarray, k: int, n_draws: int, seed: int) -> np.ndarray:
    """Slot marginals [n, k] of Plackett-Luce(p): slot 0 exact, later slots a
    Rao-Blackwellised average over ``n_draws`` sampled prefixes."""
    n = p.shape[0]
    k = min(k, n)
    out = np.zeros((n, k))
    for i in range(n):
        out[i, 0] = p[i]
    if k == 1:
        return out
    taken = np.zeros(n, np.bool_)
    for d in range(n_draws):
        prefix = plackett_luce_draw(p, k - 1, seed + d * 1000003)
        taken[:] = False
        used = 0.0
        for s in range(1, k):
            j = prefix[s - 1]
            taken[j] = True
            used += p[j]
            rest = 1.0 - used
            if rest <= 1e-300:
                continue
            for i in range(n):
                if not taken[i]:
                    out[i, s] += p[i] / rest
    for i in range(n):
        for s in range(1, k):
            out[i, s] /= n_draws
    return out
