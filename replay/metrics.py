"""Top-k ranking metrics for prequential replay.

Input is an int array of 1-based ranks of the target item, 0 meaning a miss
(target never seen, already had by the user, or outside any candidate set).

* HR@k   = mean over evaluated events of [1 <= rank <= k]
* NDCG@k = mean over evaluated events of 1 / log2(rank + 1) if 1 <= rank <= k else 0
  (one relevant item, so the ideal DCG is 1)
* 95% interval half-width of a proportion p over n events: 1.96 * sqrt(p (1 - p) / n)

>>> import numpy as np
>>> ranks = np.array([1, 3, 0, 12], dtype=np.int32)
>>> hit_rate(ranks, k=10)
0.5
>>> round(ndcg(ranks, k=10), 4)   # (1 + 1/log2(4)) / 4
0.375
>>> round(interval95(0.5, 100), 4)
0.098
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


def hits(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Boolean array: target ranked within the top k."""
    r = np.asarray(ranks)
    return (r >= 1) & (r <= k)


def gains(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-event NDCG@k gain: 1/log2(rank+1) inside the top k, else 0."""
    r = np.asarray(ranks, dtype=np.float64)
    out = np.zeros(r.shape, dtype=np.float64)
    ok = hits(ranks, k)
    out[ok] = 1.0 / np.log2(r[ok] + 1.0)
    return out


def hit_rate(ranks: np.ndarray, k: int = 10) -> float:
    """HR@k over all entries of ``ranks`` (0.0 when empty)."""
    r = np.asarray(ranks)
    return float(hits(r, k).mean()) if r.size else 0.0


def ndcg(ranks: np.ndarray, k: int = 10) -> float:
    """NDCG@k over all entries of ``ranks`` (0.0 when empty)."""
    r = np.asarray(ranks)
    return float(gains(r, k).mean()) if r.size else 0.0


def interval95(p: float, n: int) -> float:
    """Half-width of the normal-approximation 95% interval of a proportion."""
    if n <= 0:
        return 0.0
    return 1.96 * math.sqrt(max(p * (1.0 - p), 0.0) / n)


@dataclass(frozen=True)
class RankSummary:
    """HR@k, NDCG@k and the HR interval over one set of evaluated events."""

    n: int
    hr: float
    hr_ci: float
    ndcg: float
    k: int = 10

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(ranks: np.ndarray, k: int = 10) -> RankSummary:
    """Summary of the ranks of the evaluated events (pass only evaluated events)."""
    r = np.asarray(ranks)
    p = hit_rate(r, k)
    return RankSummary(n=int(r.size), hr=p, hr_ci=interval95(p, int(r.size)), ndcg=ndcg(r, k), k=k)


def rolling_hit_rate(ranks: np.ndarray, window: int, k: int = 10) -> np.ndarray:
    """HR@k over a trailing window of ``window`` evaluations (shorter at the start)."""
    h = hits(np.asarray(ranks), k).astype(np.float64)
    if h.size == 0:
        return h
    c = np.concatenate(([0.0], np.cumsum(h)))
    idx = np.arange(1, h.size + 1)
    lo = np.maximum(idx - max(int(window), 1), 0)
    return (c[idx] - c[lo]) / (idx - lo)
