"""Cumulative and exponentially decayed item popularity, and the trending list.

Decayed count of item ``j`` after event ``t``: ``d_j(t) = sum_{e <= t, item_e = j} 2^{-(t-e)/h}``
with half-life ``h`` events. Stored inflated: each event multiplies a global ``scale`` by
``2^{1/h}`` and adds ``scale`` to ``popd[j]``; ``d_j = popd[j] / scale``. When ``scale``
exceeds 1e100 everything is renormalised (exact up to rounding), so updates are O(1).

>>> import numpy as np
>>> popd = np.zeros(2); scale = 1.0; dirty = np.zeros(2, np.bool_)
>>> for j in (0, 0, 1): scale = decayed_add(popd, scale, 2 ** 0.5, j, dirty)  # half-life 2
>>> round(float(popd[0] / scale), 4), round(float(popd[1] / scale), 4)
(1.2071, 1.0)
"""

from __future__ import annotations

import math

from streamrec.online.jit import kernel
from streamrec.online.topk import topk_insert

_RENORM_AT = 1e100


@kernel()
def decayed_add(popd, scale, growth, j, dirty):
    """Decay every count by one event (via ``scale``) and add 1 to item ``j``; returns the
    new scale."""
    scale = scale * growth
    if scale > _RENORM_AT:
        for q in range(popd.shape[0]):
            popd[q] /= scale
            dirty[q] = True
        scale = 1.0
    popd[j] += scale
    dirty[j] = True
    return scale


@kernel(inline="always")
def count_add(it, j, x):
    """``pop_j += x`` in the ``Items`` bundle ``it``, with the arrays derived from it:
    ``lpop_j = log1p(pop_j)`` and ``pop_rs_j = 1 / sqrt(max(pop_j, 1))``."""
    it.pop[j] += x
    it.lpop[j] = math.log1p(it.pop[j])
    it.pop_rs[j] = 1.0 / math.sqrt(max(it.pop[j], 1.0))


@kernel()
def top_items(values, eligible_n, k, out, best):
    """Indices of the ``k`` largest positive ``values[0:eligible_n]`` (ties: lower index
    first), best first, into ``out``; returns how many were written. ``best``: a work
    buffer of at least ``min(k, eligible_n)`` floats."""
    n_out = 0
    for j in range(eligible_n):
        if values[j] > 0.0:
            n_out = topk_insert(j, values[j], out, best, n_out, k)
    return n_out
