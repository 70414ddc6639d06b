"""Per-user interaction history as flat linked lists in a ring (O(1) per event, bounded).

Entry ``e`` is the ``e``-th positive event overall. It lives in slot ``e mod L`` of the
ring (``L = len(hist_item)``, a power of two) as ``hist_item`` (the item) and ``hist_prev``
(the user's previous entry, -1 at the start); ``user_head[u]`` is the user's latest entry.
Walking back from the head gives the user's recent items (sequence features) and the set
of items to exclude from ranking. The ring keeps the last ``L`` entries: once ``n_hist``
entries were appended, entry ``e`` is live while ``e >= n_hist - L``, and a walk stops at
the first entry older than that (the engine grows ``L`` by doubling up to
``RecommenderConfig.history_capacity``, so memory stays bounded on an endless stream).

>>> import numpy as np
>>> hi = np.zeros(4, np.int32); hp = np.zeros(4, np.int64); head = np.full(2, -1, np.int64)
>>> n = 0
>>> for item in (5, 7, 9): n = hist_append(hi, hp, head, 0, item, n)
>>> rec = np.zeros(8, np.int32); int(recent_items(hi, hp, head, 0, rec, 2, n)), rec[:2].tolist()
(2, [9, 7])
>>> for item in (1, 2): n = hist_append(hi, hp, head, 1, item, n)   # the ring drops item 5
>>> int(recent_items(hi, hp, head, 0, rec, 8, n)), rec[:2].tolist()
(2, [9, 7])
"""

from __future__ import annotations

from streamrec.online.jit import kernel


@kernel()
def hist_append(hist_item, hist_prev, user_head, u, item, n_hist):
    """Append ``item`` to user ``u``'s history as entry ``n_hist`` (slot ``n_hist mod L``);
    returns ``n_hist + 1``."""
    s = n_hist & (hist_item.shape[0] - 1)
    hist_item[s] = item
    hist_prev[s] = user_head[u]
    user_head[u] = n_hist
    return n_hist + 1


@kernel()
def recent_items(hist_item, hist_prev, user_head, u, out, n_max, n_hist):
    """Write the user's last ``n_max`` live items, newest first, to ``out``; return the count."""
    n = 0
    if u < 0:
        return 0
    mask = hist_item.shape[0] - 1
    oldest = n_hist - hist_item.shape[0]
    e = user_head[u]
    while e >= 0 and e >= oldest and n < n_max:
        s = e & mask
        out[n] = hist_item[s]
        n += 1
        e = hist_prev[s]
    return n


@kernel()
def mark_seen(hist_item, hist_prev, user_head, u, mark, stamp, n_hist):
    """Set ``mark[item] = stamp`` for every item among user ``u``'s live entries."""
    if u < 0:
        return
    mask = hist_item.shape[0] - 1
    oldest = n_hist - hist_item.shape[0]
    e = user_head[u]
    while e >= 0 and e >= oldest:
        s = e & mask
        mark[hist_item[s]] = stamp
        e = hist_prev[s]
