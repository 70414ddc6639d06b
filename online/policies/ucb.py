"""UCB-style bonus: rank by ``score_i + c * sqrt(log(t + 1) / (n_i + 1))``.

``t`` counts all feedback seen and ``n_i`` the feedback for item i
(``update``). Given the state, the slate is deterministic (top-k of the bonused
scores, stable ties), so each shown item has propensity 1 and the others 0;
exploration comes from the bonus shrinking for items shown often.

>>> from streamrec.online.policies.ucb import UCB
>>> pol = UCB(c=1.0)
>>> for _ in range(20):
...     pol.update("a", 0.0)
>>> list(pol.select(["a", "b"], [0.5, 0.4], k=1, seed=0).items)  # b's bonus wins
['b']
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamrec.online.policies.base import Policy, rank_order


class UCB(Policy):
    """Deterministic top-k over upper-confidence-bonused scores."""

    def __init__(self, c: float = 0.1, max_items: int = 1_000_000):
        if not c >= 0.0:
            raise ValueError("c must be >= 0")
        self.c = float(c)
        self.max_items = int(max_items)
        self.t = 0
        self.counts: OrderedDict[str, float] = OrderedDict()
        self.name = f"ucb:{self.c:g}"

    def bonus(self, items: Sequence[Any] | np.ndarray) -> np.ndarray:
        """``c * sqrt(log(t + 1) / (n_i + 1))`` per item."""
        get = self.counts.get
        n = np.fromiter((get(str(i), 0.0) for i in items), dtype=np.float64, count=len(items))
        return self.c * np.sqrt(math.log(self.t + 1.0) / (n + 1.0))

    def update(self, item: Any, reward: float) -> None:
        key = str(item)
        self.t += 1
        self.counts[key] = self.counts.pop(key, 0.0) + 1.0
        if len(self.counts) > self.max_items:
            self.counts.popitem(last=False)

    def _adjusted(self, items, clean):
        return np.clip(clean, -1e150, 1e150) + self.bonus(items)

    def _draw(self, items, clean, k, seed, with_props):
        return rank_order(self._adjusted(items, clean))[:k], np.ones(k)

    def _marginals(self, items, clean, k):
        out = np.zeros((clean.shape[0], k))
        out[rank_order(self._adjusted(items, clean))[:k], np.arange(k)] = 1.0
        return out

    def to_dict(self) -> dict:
        """JSON-able state (for recovery snapshots)."""
        return {"c": self.c, "t": self.t, "counts": dict(self.counts)}

    def load_dict(self, data: dict) -> None:
        self.t = int(data.get("t", 0))
        self.counts = OrderedDict((str(k), float(v)) for k, v in data.get("counts", {}).items())
