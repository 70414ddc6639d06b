"""Slates for a whole batch of events in one call: ``select_batch``.

Input: the engine's candidate score matrix ``scores[e, c]`` (best first, padded
with ``-inf``), ``counts[e]`` valid candidates per event and one seed per event.
Output: ``idx[e, s]`` (candidate column shown in slot ``s``, -1 past the slate),
``props[e, s]`` (slot propensities) and ``shown[e] = min(k, counts[e])``.

Every row equals ``policy.select(range(counts[e]), scores[e, :counts[e]], k, seeds[e])``
of the same policy (same draws, same propensities). Epsilon-greedy -- the default
serving policy -- runs as one Numba kernel over the batch (stable rank order,
exact rank marginals looked up in a table cached per (n_max, k)); other
policies fall back to their own ``select`` row by row.

>>> import numpy as np
>>> from streamrec.online.policies import EpsilonGreedy
>>> pol = EpsilonGreedy(0.0)
>>> idx, props, shown = select_batch(pol, np.array([[1.0, 3.0, 2.0, -np.inf]]), np.array([3]), 2,
...                                  np.array([7]))
>>> idx.tolist(), props.tolist(), shown.tolist()
([[1, 2]], [[1.0, 1.0]], [2])
"""

from __future__ import annotations

import numpy as np
from numba import njit

from streamrec.online.policies.base import Policy
from streamrec.online.policies.epsilon_greedy import EpsilonGreedy
from streamrec.online.policies.sampling import epsilon_greedy_select

_BIG = 1e300


@njit(cache=True)
def _stable_argsort(x):
    """Stable ascending order of ``x`` by insertion (slates are short and arrive nearly
    sorted; compiles in a fraction of ``np.argsort(kind="mergesort")``'s time)."""
    order = np.empty(x.shape[0], np.int64)
    for i in range(x.shape[0]):
        v, p = x[i], i
        while p > 0 and x[order[p - 1]] > v:
            order[p] = order[p - 1]
            p -= 1
        order[p] = i
    return order


@njit(cache=True)
def _egreedy_rows(scores, counts, k, eps, seeds, table, idx, props, shown):
    """Per row: clean scores (NaN last, infinities clipped), stable best-first order, one draw."""
    for e in range(scores.shape[0]):
        n = min(counts[e], scores.shape[1])
        kk = min(k, n)
        shown[e] = kk
        if kk == 0:
            continue
        neg = np.empty(n)
        for c in range(n):
            x = scores[e, c]
            if np.isnan(x):
                x = -_BIG
            elif x > _BIG:
                x = _BIG
            elif x < -_BIG:
                x = -_BIG
            neg[c] = -x
        order = _stable_argsort(neg)
        cols, p = epsilon_greedy_select(order, table[n, :n, :kk], kk, eps, seeds[e])
        for s in range(kk):
            idx[e, s] = cols[s]
            props[e, s] = p[s]


def marginal_table(policy: EpsilonGreedy, n_max: int, k: int) -> np.ndarray:
    """``T[n, j, s]`` = P(rank j in slot s) with n candidates (n <= n_max), zero-padded."""
    table = np.zeros((n_max + 1, max(n_max, 1), max(k, 1)))
    for n in range(1, n_max + 1):
        m = policy.rank_marginals(n, k)
        table[n, :n, : m.shape[1]] = m
    return table


def select_batch(
    policy: Policy, scores: np.ndarray, counts: np.ndarray, k: int, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(idx [E, k] int64 with -1 padding, props [E, k], shown [E]) for ``E`` events; see the module doc."""
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    seeds = np.asarray(seeds, dtype=np.int64)
    n_ev = scores.shape[0]
    k = max(int(k), 0)
    idx = np.full((n_ev, max(k, 1)), -1, np.int64)
    props = np.zeros((n_ev, max(k, 1)))
    shown = np.zeros(n_ev, np.int64)
    if n_ev == 0 or k == 0:
        return idx[:, :k], props[:, :k], shown
    if type(policy) is EpsilonGreedy:
        n_max = scores.shape[1]
        key = (n_max, k)
        cache = policy.__dict__.setdefault("_batch_tables", {})
        table = cache.get(key)
        if table is None:
            table = cache[key] = marginal_table(policy, n_max, k)
        _egreedy_rows(scores, counts, k, policy.epsilon, seeds, table, idx, props, shown)
        return idx, props, shown
    for e in range(n_ev):
        n = int(min(counts[e], scores.shape[1]))
        slate = policy.select(np.arange(n), scores[e, :n], k, seed=int(seeds[e]))
        m = len(slate)
        idx[e, :m] = slate.items.astype(np.int64)
        props[e, :m] = slate.propensities
        shown[e] = m
    return idx, props, shown
