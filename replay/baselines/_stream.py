"""Protocol bookkeeping shared by the counting baselines: dense ids, user histories, target rank.

Users and items get dense ids in order of first appearance, so at any point of the
stream the items observed so far are exactly ``0 .. n_items_seen - 1``. A user's
positive items are a linked list in flat arrays, bundled as :class:`Histories`
(``head[u]`` -> entry ``e``: ``item[e]``, next entry ``next[e]``, -1 ends it).

Target rank (ties counted pessimistically), for user ``u`` and target ``i``::

    C    = {0 .. n_seen-1} minus items u already interacted with
    rank = 1 + #{j in C, j != i : score[j] >= score[i]}   if i in C, else 0 (miss)

Pessimistic ties are the rule of every model in the harness (the engine's included).
The PROTOCOL.md reference figures for popularity/transitions used another, arbitrary tie
order (they are reproduced exactly when equal scores are ordered by descending ML item id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numba import njit


class Histories(NamedTuple):
    """Every user's positive items as linked lists, plus the rank scratch ``mark`` (a stamp
    per item), passed to the kernels as one bundle."""

    head: np.ndarray
    next: np.ndarray
    item: np.ndarray
    mark: np.ndarray


@njit(cache=True)
def _mark_history(u, h, stamp, target):
    """Stamp every item ``u`` had in ``mark``; True when ``target`` is among them."""
    e = h.head[u]
    while e >= 0:
        h.mark[h.item[e]] = stamp
        e = h.next[e]
    return h.mark[target] == stamp


@njit(cache=True)
def rank_target(scores, n_seen, target, u, h, stamp):
    """1-based pessimistic rank of ``target`` among observed items not yet had by ``u``; 0 = miss."""
    if target >= n_seen or _mark_history(u, h, stamp, target):
        return 0
    s = scores[target]
    if not np.isfinite(s):
        return 0
    rank = 1
    for j in range(n_seen):
        if j != target and h.mark[j] != stamp and scores[j] >= s:
            rank += 1
    return rank


@njit(cache=True)
def rank_target_lex(primary, secondary, n_seen, target, u, h, stamp):
    """As :func:`rank_target` for lexicographic scores ``(primary[j], secondary[j])``."""
    if target >= n_seen or _mark_history(u, h, stamp, target):
        return 0
    p = primary[target]
    s = secondary[target]
    rank = 1
    for j in range(n_seen):
        if j != target and h.mark[j] != stamp and (primary[j] > p or (primary[j] == p and secondary[j] >= s)):
            rank += 1
    return rank


@njit(cache=True)
def append_history(u, i, h, n_hist):
    """Push item ``i`` on user ``u``'s list; returns the new history length."""
    h.item[n_hist] = i
    h.next[n_hist] = h.head[u]
    h.head[u] = n_hist
    return n_hist + 1


def grow(arr: np.ndarray, need: int, fill: Any = 0) -> np.ndarray:
    """``arr`` with capacity >= ``need`` rows (doubling), new rows set to ``fill``."""
    if arr.shape[0] >= need:
        return arr
    cap = max(need, 2 * arr.shape[0], 16)
    out = np.full((cap,) + arr.shape[1:], fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class StreamIndex:
    """Dense user/item ids, per-user positive histories and the rank scratch marks."""

    def __init__(self) -> None:
        self.user_ids: dict[str, int] = {}
        self.item_ids: dict[str, int] = {}
        self.user_head = np.full(0, -1, dtype=np.int64)
        self.hist_next = np.zeros(0, dtype=np.int64)
        self.hist_item = np.zeros(0, dtype=np.int64)
        self.mark = np.zeros(0, dtype=np.int64)
        self.n_hist = 0
        self.n_seen = 0  # items observed by the kernels so far
        self.n_events = 0  # events processed so far (stamps for ``mark``)

    def histories(self) -> Histories:
        """The current (grown) history arrays as the kernels' bundle."""
        return Histories(self.user_head, self.hist_next, self.hist_item, self.mark)

    def encode(self, events: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense (users, items, positive) arrays for a chunk; grows every array to fit it."""
        n = len(events)
        uid, iid = self.user_ids, self.item_ids
        users = np.fromiter((uid.setdefault(e.user, len(uid)) for e in events), np.int64, n)
        items = np.fromiter((iid.setdefault(e.item, len(iid)) for e in events), np.int64, n)
        positive = np.fromiter((bool(e.is_positive) for e in events), np.bool_, n)
        self.user_head = grow(self.user_head, len(uid), -1)
        self.mark = grow(self.mark, len(iid), 0)
        self.hist_next = grow(self.hist_next, self.n_hist + n, -1)
        self.hist_item = grow(self.hist_item, self.n_hist + n, 0)
        return users, items, positive
