"""Work buffers of the kernels (not state): one ``Scratch`` bundle per engine.

``Examples`` holds the active rows of one event's examples for an FM step: rows
``0..n_user-1`` are the shared user side, example ``e`` adds rows ``ptr[e]..ptr[e+1]-1``;
``s`` holds group sums. The rest are per-item score/mark buffers sized to the catalog.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from streamrec.online.item_similarity import KnnScratch, new_knn_scratch
from streamrec.online.scoring import N_NUM

USER_ROWS_MAX = 72  # context rows (<= 64) + sequence rows (<= 8)
PROBE_MAX = 64  # IVF buckets probed per request, at most (``RecommenderConfig.n_probe``)


class Examples(NamedTuple):
    rows: np.ndarray
    xs: np.ndarray
    grp: np.ndarray
    ptr: np.ndarray
    labels: np.ndarray
    loss: np.ndarray
    s: np.ndarray
    g32: np.ndarray


class Scratch(NamedTuple):
    score: np.ndarray
    tr0: np.ndarray
    tr1: np.ndarray
    mark: np.ndarray
    mark2: np.ndarray
    touched: np.ndarray
    n_touched: np.ndarray
    cand: np.ndarray
    sa: np.ndarray
    anum: np.ndarray
    rec: np.ndarray
    ex_items: np.ndarray
    ex: Examples
    knn: KnnScratch
    probe_idx: np.ndarray
    probe_score: np.ndarray


def new_examples(n_rows: int, n_ex: int, k: int) -> Examples:
    """Buffers for ``n_ex`` examples of at most ``n_rows`` active rows in all."""
    return Examples(
        rows=np.zeros(n_rows, np.int64),
        xs=np.zeros(n_rows),
        grp=np.zeros(n_rows, np.int8),
        ptr=np.zeros(n_ex + 1, np.int64),
        labels=np.zeros(n_ex),
        loss=np.zeros(n_ex),
        s=np.zeros((6, k)),
        g32=np.zeros(k, np.float32),
    )


def new_scratch(n_items_cap: int, k: int, n_rec: int, n_neg: int = 4, max_feats: int = 16) -> Scratch:
    """Work buffers for a catalog of ``n_items_cap`` items."""
    n_ex = n_neg + 1
    return Scratch(
        score=np.zeros(n_items_cap),
        tr0=np.zeros(n_items_cap),
        tr1=np.zeros(n_items_cap),
        mark=np.zeros(n_items_cap, np.int64),
        mark2=np.zeros(n_items_cap, np.int64),
        touched=np.zeros(2 * n_items_cap + 8, np.int32),
        n_touched=np.zeros(1, np.int64),
        cand=np.zeros(n_items_cap, np.int32),
        sa=np.zeros(k),
        anum=np.zeros(N_NUM),
        rec=np.zeros(max(n_rec, 1), np.int32),
        ex_items=np.zeros(n_ex, np.int64),
        ex=new_examples(USER_ROWS_MAX + n_ex * (max_feats + N_NUM) + 8, n_ex, k),
        knn=new_knn_scratch(n_items_cap, n_rec),
        probe_idx=np.zeros(PROBE_MAX, np.int64),
        probe_score=np.zeros(PROBE_MAX),
    )
