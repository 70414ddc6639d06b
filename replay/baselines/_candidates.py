"""Protocol bookkeeping for the pure-Python (River) baselines.

Same rule as :mod:`replay.baselines._stream`: candidates are the items observed so
far minus the user's own items; rank = 1 + #{candidates j != target : score_j >= score_target}
(pessimistic ties); 0 when the target is unseen or already had.

>>> import numpy as np
>>> c = CandidateTracker()
>>> for u, i in [("a", "x"), ("a", "y"), ("b", "z")]:
...     c.observe(u, c.index(i), positive=True)
>>> c.rank(np.array([0.5, 0.9, 0.5]), "a", c.index("z"))   # a had x and y: z is alone
1
>>> c.rank(np.array([0.5, 0.9, 0.5]), "b", c.index("x"))   # y scores higher, ties count
2
"""

from __future__ import annotations

import numpy as np


class CandidateTracker:
    """Dense item ids in order of first appearance, per-user item sets, pessimistic rank."""

    def __init__(self) -> None:
        self.item_ids: dict[str, int] = {}
        self.items: list[str] = []
        self.user_items: dict[str, set[int]] = {}
        self.n_seen = 0  # items observed in events already learned

    def index(self, item: str) -> int:
        """Dense id of ``item`` (assigned on first sight, not yet 'observed')."""
        j = self.item_ids.get(item)
        if j is None:
            j = self.item_ids[item] = len(self.items)
            self.items.append(item)
        return j

    def is_candidate(self, user: str, j: int) -> bool:
        """True when ``j`` was observed before and ``user`` has not had it."""
        return j < self.n_seen and j not in self.user_items.get(user, ())

    def rank(self, scores: np.ndarray, user: str, j: int) -> int:
        """Pessimistic 1-based rank of ``j`` given ``scores`` of items ``0..n_seen-1``; 0 = miss."""
        if not self.is_candidate(user, j):
            return 0
        s = scores[j]
        if not np.isfinite(s):
            return 0
        above = scores[: self.n_seen] >= s
        above[j] = False
        had = self.user_items.get(user)
        if had:
            above[np.fromiter(had, np.int64, len(had))] = False
        return 1 + int(above.sum())

    def observe(self, user: str, j: int, positive: bool) -> None:
        """Record event (user, j) after learning it."""
        self.n_seen = max(self.n_seen, j + 1)
        if positive:
            self.user_items.setdefault(user, set()).add(j)
