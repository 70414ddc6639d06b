"""Cumulative and exponentially decayed item popularity, and the trending list.

Decayed count of item ``j`` after event ``t``: ``d_j(t) = sum_{e <= t, item_e = j} 2^{-(t-e)/h}``
with half-life ``h`` events. Stored inflated: each event multiplies a global ``scale`` by
``2^{1/h}`` and adds ``scale`` to ``popd[j]``; ``d_j = popd[j] / scale``. When ``scale``
exceeds 1e100 everything is renormalised (exact up to rounding), so updates are O(1).

>>> import numpy as np
>>> popd = np.zeros(2); glob = np.ones(4); dirty = np.zeros(2, np.bool_)
>>> for j in (0, 0, 1): decayed_add(popd, glob, 3, 2 ** 0.5, j, dirty)  # half-life 2
>>> round(float(popd[0] / glob[3]), 4), round(float(popd[1] / glob[3]), 4)
(1.2071, 1.0)
"""

from __future__ import annotations

from numba import njit

_RENORM_AT = 1e100


@njit(cache=True)
def decayed_add(popd, glob, scale_at, growth, j, dirty):
    """Decay every count by one event (via ``glob[scale_at]``) and add 1 to item ``j``."""
    scale = glob[scale_at] * growth
    if scale > _RENORM_AT:
        for q in range(popd.shape[0]):
            popd[q] /= scale
            dirty[q] = True
        scale = 1.0
    glob[scale_at] = scale
    popd[j] += scale
    dirty[j] = True


@njit(cache=True)
def top_items(values, eligible_n, k, out):
    """Indices of the ``k`` largest ``values[0:eligible_n]`` (ties: lower index first),
    best first, into ``out``; returns how many were written."""
    n_out = 0
    for j in range(eligible_n):
        x = values[j]
        if x <= 0.0:
            continue
        if n_out < k:
            pos = n_out
            n_out += 1
        elif x > values[out[n_out - 1]]:
            pos = n_out - 1
        else:
            continue
        while pos > 0 and values[out[pos - 1]] < x:
            out[pos] = out[pos - 1]
            pos -= 1
        out[pos] = j
    return n_out
