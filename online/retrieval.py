"""Candidate retrieval for large catalogs: neighbours ∪ trending ∪ IVF buckets.

IVF (inverted file) over the items' cached static vectors ``vsum_j``: ``C`` centroids
(``C = clip(sqrt(n)/2, 8, 1024)`` unless configured) trained by spherical k-means on a
sample, every item linked into the list of its best centroid ``argmax_c <c, vsum_j>``.
A query ``s_A`` probes the centroids by decreasing ``<s_A, c>`` (at most ``n_probe``) and
takes at most ``ivf_max_candidates`` items, so the cost per query is
``O(C k + min(n_probe n/C, ivf_max) k)`` instead of ``O(n k)``. Buckets are stored
contiguously (``order`` sorted by bucket, ``ptr`` offsets: no pointer chasing); items first
observed after a build join a per-bucket doubly linked list (``clnext`` persisted,
``clprev`` derived on load: ``engine_state.ivf_prev_links``), so moving an item costs ``O(1)``.

No stop-the-world clustering on the event path: when the catalog first exceeds
``full_rank_threshold`` the index starts from sampled centroids (``ivf_seed``), then is
kept up to date in small steps (``ivf_relink``, ``O(C k)`` per item): each event relinks
``ceil(n / ivf_refresh_events)`` items in turn; each moves to its nearest centroid and
pulls that centroid towards itself (online spherical k-means,
``c <- normalize(c + eta x/|x|)``); while ``sqrt(n)/2`` exceeds the number of centroids,
a new one is seeded (``ivf_add_centroid``) and fills as the sweep relinks. An item's
bucket is ``it.cluster[j]``: entries of the contiguous part that moved away are skipped
when gathering. ``ivf_build`` (full k-means) remains for ``rank`` on a state that has no
index yet.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamrec.online.hashing import counter_uniform
from streamrec.online.jit import inner_kernel, kernel
from streamrec.online.topk import topk_insert

IN_ORDER = -2  # ``clnext`` of an item held in the contiguous part, not in a list
IVF_ETA = 0.05  # step of the online centroid update
SEED_STREAM = 2_000_000  # counter_uniform stream of the sampled centroid seeds


@kernel(inline="always")
def centroid_dots(x, ivf, n_c):
    """``ivf.dots[c] = <x, centroid c>`` for ``c < n_c``, over the transposed copy
    ``cent_t`` so that the inner loop runs across centroids (vectorised; each sum still
    in feature order, so bitwise the plain loop's)."""
    dots = ivf.dots
    for c in range(n_c):
        dots[c] = 0.0
    for f in range(x.shape[0]):
        xf = x[f]
        row = ivf.cent_t[f]
        for c in range(n_c):
            dots[c] += xf * row[c]
    return dots


@kernel()
def nearest_centroid(x, ivf, n_c):
    """Index of the centroid with the largest inner product with ``x`` (the first on ties)."""
    dots = centroid_dots(x, ivf, n_c)
    best = -np.inf
    bc = 0
    for c in range(n_c):
        if dots[c] > best:
            best = dots[c]
            bc = c
    return bc


@kernel(inline="always")
def sync_centroid(ivf, c):
    """Copy centroid ``c`` into the transposed ``cent_t`` (after every write to it)."""
    for f in range(ivf.centroids.shape[1]):
        ivf.cent_t[f, c] = ivf.centroids[c, f]


@kernel()
def ivf_link(j, it, ivf, n_c):
    """Put item ``j`` into the bucket of its nearest centroid."""
    _push(j, it, ivf, nearest_centroid(it.vsum[j], ivf, n_c))


@inner_kernel
def _push(j, it, ivf, c):
    h = ivf.head[c]
    it.cluster[j] = c
    it.clnext[j] = h
    it.clprev[j] = -1
    if h >= 0:
        it.clprev[h] = j
    ivf.head[c] = j
    it.dirty[j] = True


@njit(cache=True)
def ivf_build(it, ivf, ctr, n_c, seed, n_iter):
    """Spherical k-means on a sample of items, then relink every item (``ctr``: the
    counters record; its ``events`` seed the sample, ``n_clusters`` is set)."""
    c0 = ctr[0]
    n = c0.ready
    if n == 0:
        return
    n_c = max(1, min(n_c, ivf.centroids.shape[0], n))
    k = ivf.centroids.shape[1]
    n_s = min(n, 32 * n_c)
    sample = np.empty(n_s, np.int64)
    for t in range(n_s):
        sample[t] = int(counter_uniform(seed, c0.events, 1_000_000 + t) * n)
    for c in range(n_c):
        ivf.centroids[c, :] = it.vsum[sample[c * n_s // n_c]]
    acc = np.zeros((n_c, k))
    for _ in range(n_iter):
        for c in range(n_c):
            nrm = math.sqrt(np.sum(ivf.centroids[c].astype(np.float64) ** 2)) + 1e-12
            ivf.centroids[c, :] = ivf.centroids[c, :] / nrm
            sync_centroid(ivf, c)
        acc[:, :] = 0.0
        for t in range(n_s):
            j = sample[t]
            c = nearest_centroid(it.vsum[j], ivf, n_c)
            acc[c, :] += it.vsum[j]
        for c in range(n_c):
            if np.any(acc[c] != 0.0):
                ivf.centroids[c, :] = acc[c]
    for c in range(n_c):  # unit centroids: the online updates keep them so
        nrm = math.sqrt(np.sum(ivf.centroids[c].astype(np.float64) ** 2)) + 1e-12
        ivf.centroids[c, :] = ivf.centroids[c, :] / nrm
        sync_centroid(ivf, c)
    ivf.head[:] = -1
    it.clprev[:] = -1
    c0.n_clusters = n_c
    counts = np.zeros(n_c + 1, np.int64)
    for j in range(n):
        c = nearest_centroid(it.vsum[j], ivf, n_c)
        it.cluster[j] = c
        it.clnext[j] = IN_ORDER
        counts[c + 1] += 1
        it.dirty[j] = True
    ivf.ptr[:] = 0
    for c in range(n_c):
        ivf.ptr[c + 1] = ivf.ptr[c] + counts[c + 1]
    fill = ivf.ptr[:n_c].copy()
    for j in range(n):
        c = it.cluster[j]
        ivf.order[fill[c]] = j
        fill[c] += 1


@inner_kernel
def ivf_unlink(j, it, ivf, c):
    """Remove item ``j`` from bucket ``c``'s doubly linked list in ``O(1)`` (no-op when
    ``j``'s links say it is not there)."""
    prev, nxt = it.clprev[j], it.clnext[j]
    if prev < 0:
        if ivf.head[c] != j:
            return
        ivf.head[c] = nxt
    else:
        if it.clnext[prev] != j:
            return
        it.clnext[prev] = nxt
        it.dirty[prev] = True
    if nxt >= 0:
        it.clprev[nxt] = prev
    it.clnext[j] = -1
    it.clprev[j] = -1


@kernel(inline="always")
def ivf_relink(j, it, ivf, n_c, eta):
    """Move item ``j`` to the bucket of its nearest centroid ``c`` (``O(C k)``), then ``c <- normalize(c + eta x/|x|)``."""
    x = it.vsum[j]
    nx = 0.0
    for f in range(x.shape[0]):
        nx += float(x[f]) * x[f]
    if nx == 0.0:
        return
    c = nearest_centroid(x, ivf, n_c)
    old = it.cluster[j]
    if c != old:
        if old >= 0 and it.clnext[j] != IN_ORDER:
            ivf_unlink(j, it, ivf, old)
        _push(j, it, ivf, c)
    cen = ivf.centroids[c]
    step = eta / math.sqrt(nx)
    acc = 0.0
    for f in range(x.shape[0]):
        cen[f] += step * x[f]
        acc += float(cen[f]) * cen[f]
    scale = 1.0 / (math.sqrt(acc) + 1e-12)
    for f in range(x.shape[0]):
        cen[f] *= scale
    sync_centroid(ivf, c)


@inner_kernel
def ivf_add_centroid(it, ivf, ctr, seed):
    """Seed one more (empty) bucket at a sampled item's direction; items join it as the
    sweep relinks them."""
    c0 = ctr[0]
    n_c = c0.n_clusters
    if n_c >= ivf.centroids.shape[0] or c0.ready == 0:
        return
    j = int(counter_uniform(seed, c0.events, SEED_STREAM + n_c) * c0.ready)
    x, cen = it.vsum[j], ivf.centroids[n_c]
    ss = 0.0
    for f in range(x.shape[0]):  # a loop, not ``x / nrm``: array expressions compile slowly
        ss += float(x[f]) * float(x[f])
    nrm = math.sqrt(ss) + 1e-12
    for f in range(x.shape[0]):
        cen[f] = x[f] / nrm
    sync_centroid(ivf, n_c)
    ivf.head[n_c] = -1
    ivf.ptr[n_c + 1] = ivf.ptr[n_c]  # no contiguous part
    c0.n_clusters = n_c + 1


@kernel(inline="always")
def ivf_seed(it, ivf, ctr, n_c, seed):
    """Start the index with no clustering pass: ``n_c`` unit centroids at sampled items'
    directions and empty buckets; items join as the sweep relinks them and when they are
    first observed (``O(n_c k)``, whatever the catalog size)."""
    ctr[0].n_clusters = 0
    ivf.ptr[0] = 0
    for _ in range(max(1, min(n_c, ivf.centroids.shape[0], ctr[0].ready))):
        ivf_add_centroid(it, ivf, ctr, seed)


@kernel()
def _add(q, mark2, cand, n, stamp):
    """Append ``q`` to ``cand[:n]`` unless it is -1 or already marked with ``stamp``;
    returns the new ``n``."""
    if q >= 0 and mark2[q] != stamp:
        mark2[q] = stamp
        cand[n] = q
        n += 1
    return n


@kernel(inline="always")
def gather_candidates(sc, ivf, it, n_touched, n_probe, stamp, n_clusters, ivf_max):
    """Union of neighbours (``sc.touched``), trending and probed IVF buckets (at most
    ``ivf_max`` items from these) into ``sc.cand``; returns the count."""
    mark2, cand = sc.mark2, sc.cand
    n = np.int64(0)  # not a literal 0: one compiled _add
    for t in range(n_touched):
        n = _add(sc.touched[t], mark2, cand, n, stamp)
    for t in range(ivf.trend.shape[0]):
        n = _add(ivf.trend[t], mark2, cand, n, stamp)
    n_c = n_clusters
    if n_c == 0:
        return n
    best_c, best_s = sc.probe_idx, sc.probe_score
    n_probe = min(n_probe, n_c, best_c.shape[0])
    m = np.int64(0)
    dots = centroid_dots(sc.sa, ivf, n_c)
    for c in range(n_c):
        m = topk_insert(c, dots[c], best_c, best_s, m, n_probe)
    n_max = n + ivf_max
    for t in range(m):
        c = best_c[t]
        for p in range(ivf.ptr[c], ivf.ptr[c + 1]):
            if n >= n_max:
                return n
            q = ivf.order[p]
            if it.cluster[q] == c:  # else: moved to another bucket since the build
                n = _add(q, mark2, cand, n, stamp)
        q = ivf.head[c]
        while q >= 0 and n < n_max:
            n = _add(q, mark2, cand, n, stamp)
            q = it.clnext[q]
    return n
