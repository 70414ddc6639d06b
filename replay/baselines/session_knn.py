"""Session-based kNN (Ludewig & Jannach 2018): SKNN and V-SKNN over users' histories cut into blocks.

Past sessions: every user's positive events, in order, cut into consecutive blocks of
``block`` (20) events; the open (last) block of a user grows with the stream. A block
holds an item once. Query ``q``: the user's last ``query_len`` (20) positives, newest
first; the user's own blocks are never neighbours.

    SKNN   : sim(q, s) = |q ∩ s| / sqrt(|q| |s|)                     (binary cosine)
    V-SKNN : sim(q, s) = sum_{a < |q|, q_a in s} (|q| - a) / |q|      (a = age, 0 = newest)
             -- the linear position decay of session-rec's ``VMContextKNN`` (its default ``div``:
             weight pos/len, oldest pos = 1), dot product with the binary past session
    N      = the k (100) most similar blocks sharing an item with q (ties: the older block, as
             session-rec's stable sort over its set of session ids ends up doing)
    score_t(j) = sum_{s in N, j in s} sim(q, s)

compared lexicographically with cumulative popularity, then pessimistically. No
sampling of candidate sessions (session-rec samples the 1,000 most recent; ML-100K has
only ~5,000 blocks in all).

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> pairs = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "z"), ("d", "x"), ("d", "y"), ("c", "x"),
...          ("c", "y")]
>>> ev = [ClickEvent(str(n), 1.7e9 + n, u, i) for n, (u, i) in enumerate(pairs)]
>>> VSKNN().evaluate_and_learn(ev, np.ones(8, dtype=bool)).tolist()   # c: y in 2 neighbours, z in 1
[0, 0, 2, 0, 1, 2, 1, 1]
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from streamrec.replay.baselines._neighbours import recent_items
from streamrec.replay.baselines._stream import (
    StreamIndex,
    append_history,
    grow,
    rank_target_lex,
)

#: Past sessions: ``blk_items[b, :blk_len[b]]`` of user ``blk_user[b]``; ``user_block[u]`` = u's open
#: block; per item a linked list of postings ``item_post[i] -> post_next ...`` naming blocks.
Blocks = namedtuple("Blocks", "blk_items blk_len blk_user user_block item_post post_block post_next")


@njit(cache=True)
def _neighbour_sims(u, nq, q_items, weighted, sb, sim, touched):
    """Accumulate sim of every other user's block sharing a query item; returns #touched."""
    n_t = 0
    for a in range(nq):
        w = (nq - a) / nq if weighted else 1.0
        e = sb.item_post[q_items[a]]
        while e >= 0:
            b = sb.post_block[e]
            if sb.blk_user[b] != u:
                if sim[b] == 0.0:
                    touched[n_t] = b
                    n_t += 1
                sim[b] += w
            e = sb.post_next[e]
    if not weighted:
        for x in range(n_t):
            b = touched[x]
            sim[b] /= np.sqrt(nq * sb.blk_len[b])
    return n_t


@njit(cache=True)
def _score_top_k(k, n_t, sim, touched, sb, scores):
    """Add sim of the k most similar touched blocks (ties: older block) to their items; reset sim.

    Selection in O(n_t): the k-th largest sim by partition, then the oldest blocks at that value.
    """
    thr = -1.0
    n_tie = n_t  # blocks at sim == thr still to take (all of them when n_t <= k)
    if n_t > k:
        vals = np.empty(n_t)
        for x in range(n_t):
            vals[x] = sim[touched[x]]
        thr = np.partition(vals, n_t - k)[n_t - k]
        n_tie = k - int((vals > thr).sum())
        ties = np.empty(n_t, np.int64)
        m = 0
        for x in range(n_t):
            if sim[touched[x]] == thr:
                ties[m] = touched[x]
                m += 1
        tied = np.sort(ties[:m])
        for x in range(n_tie, m):  # newer tied blocks are dropped
            sim[tied[x]] = -1.0
    for x in range(n_t):
        b = touched[x]
        s = sim[b]
        if s >= thr and s > 0.0:
            for p in range(sb.blk_len[b]):
                scores[sb.blk_items[b, p]] += s
        sim[b] = 0.0


@njit(cache=True)
def _learn_block(u, i, sb, n_blocks, n_post):
    """Append i to u's open block (a new block when full); returns (n_blocks, n_post)."""
    b = sb.user_block[u]
    if b >= 0:
        for p in range(sb.blk_len[b]):
            if sb.blk_items[b, p] == i:
                return n_blocks, n_post
    if b < 0 or sb.blk_len[b] == sb.blk_items.shape[1]:
        b = n_blocks
        n_blocks += 1
        sb.blk_user[b] = u
        sb.blk_len[b] = 0
        sb.user_block[u] = b
    sb.blk_items[b, sb.blk_len[b]] = i
    sb.blk_len[b] += 1
    sb.post_block[n_post] = b
    sb.post_next[n_post] = sb.item_post[i]
    sb.item_post[i] = n_post
    return n_blocks, n_post + 1


@njit(cache=True)
def session_knn_chunk(
    users,
    items,
    positive,
    evaluate,
    k,
    weighted,
    sb,
    n_blocks,
    n_post,
    popularity,
    scores,
    sim,
    touched,
    q_items,
    q_w,
    h,
    n_seen,
    n_hist,
    stamp0,
    ranks,
):
    """Test-then-learn over one chunk; returns the updated (n_blocks, n_post, n_seen, n_hist)."""
    for t in range(users.shape[0]):
        u = users[t]
        i = items[t]
        if evaluate[t] and positive[t]:
            nq = recent_items(u, q_items.shape[0], 1.0, h, q_items, q_w)
            n_t = _neighbour_sims(u, nq, q_items, weighted, sb, sim, touched)
            scores[:n_seen] = 0.0
            _score_top_k(k, n_t, sim, touched, sb, scores)
            ranks[t] = rank_target_lex(scores, popularity, n_seen, i, u, h, stamp0 + t + 1)
        if i >= n_seen:
            n_seen = i + 1
        if positive[t]:
            n_blocks, n_post = _learn_block(u, i, sb, n_blocks, n_post)
            popularity[i] += 1.0
            n_hist = append_history(u, i, h, n_hist)
    return n_blocks, n_post, n_seen, n_hist


class SKNN:
    """Session-kNN over blocks of users' histories, binary cosine query; ``PrequentialModel``."""

    name = "sknn"
    weighted = False

    def __init__(self, k: int = 100, block: int = 20, query_len: int = 20) -> None:
        if k < 1 or block < 1 or query_len < 1:
            raise ValueError("k, block and query_len must be >= 1")
        self.k = int(k)
        self.index = StreamIndex()
        self.blocks = Blocks(
            np.zeros((0, int(block)), np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )
        self.n_blocks = self.n_post = 0
        self.popularity = np.zeros(0, dtype=np.float64)
        self.scores = np.zeros(0, dtype=np.float64)
        self.sim = np.zeros(0, dtype=np.float64)
        self.touched = np.zeros(0, dtype=np.int64)
        self.q_items = np.zeros(int(query_len), dtype=np.int64)
        self.q_w = np.zeros(int(query_len), dtype=np.float64)

    def _grow(self, n_new: int) -> None:
        n_users, n_items = len(self.index.user_ids), len(self.index.item_ids)
        b, nb, npost = self.blocks, self.n_blocks + n_new, self.n_post + n_new
        self.blocks = Blocks(
            grow(b.blk_items, nb, 0),
            grow(b.blk_len, nb, 0),
            grow(b.blk_user, nb, -1),
            grow(b.user_block, n_users, -1),
            grow(b.item_post, n_items, -1),
            grow(b.post_block, npost, 0),
            grow(b.post_next, npost, -1),
        )
        self.sim = grow(self.sim, nb, 0.0)
        self.touched = grow(self.touched, nb, 0)
        self.popularity = grow(self.popularity, n_items, 0.0)
        self.scores = grow(self.scores, n_items, 0.0)

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        ix = self.index
        users, items, positive = ix.encode(events)
        self._grow(len(events))
        ranks = np.zeros(len(events), dtype=np.int32)
        self.n_blocks, self.n_post, ix.n_seen, ix.n_hist = session_knn_chunk(
            users,
            items,
            positive,
            np.asarray(evaluate, dtype=np.bool_),
            self.k,
            self.weighted,
            self.blocks,
            self.n_blocks,
            self.n_post,
            self.popularity,
            self.scores,
            self.sim,
            self.touched,
            self.q_items,
            self.q_w,
            ix.histories(),
            ix.n_seen,
            ix.n_hist,
            ix.n_events,
            ranks,
        )
        ix.n_events += len(events)
        return ranks


class VSKNN(SKNN):
    """V-SKNN: SKNN with the linearly position-weighted query; ``PrequentialModel``."""

    name = "vsknn"
    weighted = True
