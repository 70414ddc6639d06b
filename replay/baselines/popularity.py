"""Popularity baseline: rank items by their cumulative count of positive events.

    score_t(j) = #{s < t : event s is positive and item_s = j}

Decayed popularity with no decay (``growth = 1``), so it shares that kernel.
Candidates and ties follow the protocol (see :mod:`replay.baselines._stream`).

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> ev = [ClickEvent(str(n), 1.7e9 + n, u, i) for n, (u, i) in
...       enumerate([("a", "x"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "y")])]
>>> Popularity().evaluate_and_learn(ev, np.ones(5, dtype=bool)).tolist()
[0, 1, 0, 1, 1]
"""

from __future__ import annotations

import math

from streamrec.replay.baselines.decayed_popularity import DecayedPopularity


class Popularity(DecayedPopularity):
    """Cumulative popularity; implements ``PrequentialModel``."""

    name = "popularity"

    def __init__(self) -> None:
        super().__init__(half_life=math.inf)
