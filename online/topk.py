"""Top-``k`` insertion into descending buffers: the one implementation the engine uses.

Buffers ``out_idx``/``out_score`` hold ``n_out <= k`` entries, best first. A new score
replaces the last entry only if strictly greater, and moves up past strictly smaller
scores, so among equal scores the earlier inserted stays first.

>>> import numpy as np
>>> idx, sc = np.zeros(2, np.int64), np.zeros(2)
>>> n = 0
>>> for j, s in enumerate([0.5, 2.0, 2.0, 1.0]): n = topk_insert(j, s, idx, sc, n, 2)
>>> idx.tolist(), sc.tolist()
([1, 2], [2.0, 2.0])
"""

from __future__ import annotations

from streamrec.online.jit import kernel


@kernel()
def topk_insert(idx, score, out_idx, out_score, n_out, k):
    """Insert ``(idx, score)`` into the descending top-``k`` buffers; returns the new size."""
    if n_out < k:
        pos = n_out
        n_out += 1
    elif score > out_score[n_out - 1]:
        pos = n_out - 1
    else:
        return n_out
    while pos > 0 and out_score[pos - 1] < score:
        out_idx[pos] = out_idx[pos - 1]
        out_score[pos] = out_score[pos - 1]
        pos -= 1
    out_idx[pos] = idx
    out_score[pos] = score
    return n_out
