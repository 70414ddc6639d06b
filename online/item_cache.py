"""Per-item cache of the item-static part of the FM (for fast candidate scoring).

For item ``j`` with static feature rows ``F_j`` (id, attributes; x = 1)::

    vsum_j = sum_{f in F_j} v_f
    wsum_j = sum_{f in F_j} w_f
    pair_j = 1/2 (||vsum_j||^2 - sum_{f in F_j} ||v_f||^2)

so the ranking score of ``j`` for user sum ``s_A`` is
``wsum_j + pair_j + <s_A, vsum_j> + sum_n x_nj (w_n + <s_A, v_n>)`` (user-only terms are
constant). Items touched by an update are refreshed at once; shared attribute rows drift,
so every event also refreshes a few items round-robin (the whole catalog about every
``cache_refresh_events`` events, at most ``cache_refresh_max`` items per event).
``vsum_t`` is a transposed copy, ``[k, n_items]``, for scoring the whole catalog vectorised
over items (``score_all``). It is kept current only while ``vsum_t_live[0]`` is set: the
engine clears the flag once the catalog outgrows whole-catalog ranking (retrieval scores
the rows of ``vsum``; writing a column touches ``k`` cache lines, ~5% of an event's cost
at 20k items), and ``sync_vsum_t`` rebuilds it before the next whole-catalog pass.
"""

from __future__ import annotations

from streamrec.online.jit import inner_kernel, kernel


@kernel()
def refresh_item(j, fm, it):
    """Recompute the cache row of item ``j`` (bundle ``it``) from the FM bundle ``fm``;
    marks the row dirty."""
    w, v, feats, nf, vsum = fm.w, fm.v, it.feats, it.nf, it.vsum
    k = v.shape[1]
    ws = 0.0
    q = 0.0
    for f in range(k):
        vsum[j, f] = 0.0
    for t in range(nf[j]):
        r = feats[j, t]
        ws += w[r]
        for f in range(k):
            x = v[r, f]
            vsum[j, f] += x
            q += x * x
    ss = 0.0
    for f in range(k):
        ss += float(vsum[j, f]) * vsum[j, f]
    if it.vsum_t_live[0]:
        for f in range(k):
            it.vsum_t[f, j] = vsum[j, f]
    it.wsum[j] = ws
    it.pair[j] = 0.5 * (ss - q)
    it.dirty[j] = True


@kernel()
def sync_vsum_t(it, n_items):
    """Make ``vsum_t[:, :n_items]`` current (after the flag was cleared) and set the flag."""
    if it.vsum_t_live[0]:
        return
    for j in range(n_items):
        for f in range(it.vsum.shape[1]):
            it.vsum_t[f, j] = it.vsum[j, f]
    it.vsum_t_live[0] = True


@inner_kernel
def write_item_rows(ir, t, fm, it):
    """Apply entry ``t`` of ``ir`` (``online.catalog.ItemRows``): item ``j``'s static rows
    become ``ir.rows[ptr[t]:ptr[t+1]]``; a new item gets its key, a known item's cache row
    is refreshed at once."""
    j = ir.item[t]
    r0, r1 = ir.ptr[t], ir.ptr[t + 1]
    nf = min(r1 - r0, it.feats.shape[1])
    for f in range(it.feats.shape[1]):  # a loop, not slices: less code to compile
        it.feats[j, f] = ir.rows[r0 + f] if f < nf else -1
    it.nf[j] = nf
    if ir.new[t]:
        it.key[j] = ir.key[t]
        it.dirty[j] = True
    else:
        refresh_item(j, fm, it)


@kernel()
def write_all_item_rows(ir, fm, it, new_only):
    """Apply every entry of ``ir`` in order (only new items' if ``new_only``)."""
    for t in range(ir.item.shape[0]):
        if ir.new[t] or not new_only:
            write_item_rows(ir, t, fm, it)
