"""Per-user interaction history as flat linked lists (append-only, O(1) per event).

Entry ``e`` holds ``hist_item[e]`` and ``hist_prev[e]``, the user's previous entry (-1 at
the start); ``user_head[u]`` is the user's latest entry. Walking back from the head gives
the user's recent items (sequence features) and the set of items to exclude from ranking.

>>> import numpy as np
>>> hi = np.zeros(4, np.int32); hp = np.zeros(4, np.int64); head = np.full(2, -1, np.int64)
>>> n = 0
>>> for item in (5, 7, 9): n = hist_append(hi, hp, head, 0, item, n)
>>> rec = np.zeros(2, np.int32); int(recent_items(hi, hp, head, 0, rec, 2)), rec.tolist()
(2, [9, 7])
"""

from __future__ import annotations

from streamrec.online.jit import kernel


@kernel()
def hist_append(hist_item, hist_prev, user_head, u, item, n_hist):
    """Append ``item`` to user ``u``'s history at entry ``n_hist``; returns ``n_hist + 1``."""
    hist_item[n_hist] = item
    hist_prev[n_hist] = user_head[u]
    user_head[u] = n_hist
    return n_hist + 1


@kernel()
def recent_items(hist_item, hist_prev, user_head, u, out, n_max):
    """Write the user's last ``n_max`` items, newest first, to ``out``; return the count."""
    n = 0
    if u < 0:
        return 0
    e = user_head[u]
    while e >= 0 and n < n_max:
        out[n] = hist_item[e]
        n += 1
        e = hist_prev[e]
    return n


@kernel()
def mark_seen(hist_item, hist_prev, user_head, u, mark, stamp):
    """Set ``mark[item] = stamp`` for every item in user ``u``'s history."""
    if u < 0:
        return
    e = user_head[u]
    while e >= 0:
        mark[hist_item[e]] = stamp
        e = hist_prev[e]
