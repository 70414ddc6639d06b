"""Item-to-item transition counts kept as bounded top-M tables (space-saving).

For every item ``i`` a row of ``M`` slots ``(nbr_item[i, m], nbr_cnt[i, m])`` estimates the
(weighted) number of times ``j`` followed ``i`` in a user's sequence. Space-saving
(Metwally et al. 2005): a hit adds ``w``; a miss takes a free slot, else evicts the
minimum ``c_min`` and stores ``c_min + w``, so every true count ``>= total/M`` is kept and
estimates overcount by at most ``c_min``. Memory is ``O(n_items * M)`` whatever the traffic.

>>> import numpy as np
>>> it = np.full((3, 2), -1, np.int32); ct = np.zeros((3, 2), np.float32)
>>> for j in (1, 1, 2, 1): ss_add(it, ct, 0, j, 1.0)
>>> float(ss_count(it, ct, 0, 1)), float(ss_count(it, ct, 0, 2))
(3.0, 1.0)
"""

from __future__ import annotations

import numpy as np

from streamrec.online.jit import kernel


@kernel()
def ss_add(nbr_item, nbr_cnt, i, j, wgt):
    """Add weight ``wgt`` to the count of transition ``i -> j`` (space-saving)."""
    m_slots = nbr_item.shape[1]
    mn = np.inf
    mpos = 0
    for m in range(m_slots):
        it = nbr_item[i, m]
        if it == j:
            nbr_cnt[i, m] += wgt
            return
        if it < 0:
            nbr_item[i, m] = j
            nbr_cnt[i, m] = wgt
            return
        if nbr_cnt[i, m] < mn:
            mn = nbr_cnt[i, m]
            mpos = m
    nbr_item[i, mpos] = j
    nbr_cnt[i, mpos] = mn + wgt


@kernel()
def ss_count(nbr_item, nbr_cnt, i, j):
    """Estimated count of ``i -> j`` (0 when ``j`` is not in ``i``'s table)."""
    for m in range(nbr_item.shape[1]):
        it = nbr_item[i, m]
        if it == j:
            return nbr_cnt[i, m]
        if it < 0:
            return 0.0
    return 0.0


@kernel()
def ss_scatter(nbr_item, nbr_cnt, i, wgt, out, touched, n_touched):
    """``out[j] += wgt * count(i -> j)`` for every ``j`` in ``i``'s table; records new
    non-zero positions in ``touched``; returns the new ``n_touched``."""
    for m in range(nbr_item.shape[1]):
        j = nbr_item[i, m]
        if j < 0:
            break
        if out[j] == 0.0:
            touched[n_touched] = j
            n_touched += 1
        out[j] += wgt * nbr_cnt[i, m]
    return n_touched
