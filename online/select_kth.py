"""The ``k``-th largest of a buffer in ``O(n)`` expected time, in place (no allocation).

Wirth's selection (Hoare partitions around the current ``a[k]``, keeping the side that
holds position ``k``): afterwards ``a[:k]`` are ``>=`` and ``a[k+1:n]`` are ``<=`` the
returned value. Used to cap how many item-kNN neighbours join the retrieval candidates.

>>> import numpy as np
>>> a = np.array([3.0, 9.0, 1.0, 7.0, 7.0, 2.0])
>>> float(kth_largest(a, 6, 0)), float(kth_largest(a, 6, 2)), float(kth_largest(a, 6, 5))
(9.0, 7.0, 1.0)
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, _nrt=False)
def kth_largest(a, n, k):
    """The value at 0-based position ``k`` of ``a[:n]`` sorted in decreasing order
    (``0 <= k < n``); reorders ``a[:n]``."""
    lo, hi = 0, n - 1
    while lo < hi:
        x = a[k]
        i, j = lo, hi
        while i <= j:
            while a[i] > x:
                i += 1
            while x > a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]
