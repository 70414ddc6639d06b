"""The streamrec engine as the learner of the click simulator's closed loop.

The engine sees what a production system would: the user id plus the user's observed
features as request context (each dimension of the simulator's observed user vector,
bucketed into terciles: ``{"x0": "hi", "x1": "lo", ...}``). ``scores(user)`` ranks the
whole simulated catalog with
:meth:`online.recommender.Recommender.rank` (seen items are not excluded: simulated
users click the same items again); ``learn_slate`` feeds the shown slate back as
events, clicks as positives and shown-not-clicked items as ``impression``
negatives, in one ``process_batch`` call.

>>> from streamrec.replay.simulator import ClickSimulator, SimulatorConfig, run_closed_loop
>>> from streamrec.online.policies import Greedy
>>> sim = ClickSimulator(SimulatorConfig(n_users=20, n_items=30, seed=1))
>>> r = run_closed_loop(sim, Greedy(), EngineLearner(sim), n_events=50)
>>> r.events
50
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamrec.online.recommender import Recommender, RecommenderConfig


class EngineLearner:
    """Adapter: simulator user/item ints <-> the engine's string ids and events."""

    def __init__(self, sim: Any, config: RecommenderConfig | None = None):
        self.n_items = sim.cfg.n_items
        self.rec = Recommender(config or RecommenderConfig(n_buckets=1 << 16, n_negatives=0))
        self.t = 0.0
        x = np.asarray(sim.user_vec)
        cuts = np.quantile(x, [1 / 3, 2 / 3], axis=0)
        names = np.array(["lo", "mid", "hi"])
        buckets = names[(x > cuts[0]).astype(int) + (x > cuts[1]).astype(int)]
        self.context = [{f"x{d}": str(b) for d, b in enumerate(row)} for row in buckets]
        # every item is known up front (as item metadata), so the catalog is complete from event 0
        for i in range(self.n_items):
            self.rec.add_item_metadata(f"i{i}", {})

    def scores(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        ranked = self.rec.rank(f"u{user}", self.context[user], k=self.n_items, exclude_seen=False)
        items = np.fromiter((int(i[1:]) for i, _ in ranked), np.int64, len(ranked))
        scores = np.fromiter((s for _, s in ranked), np.float64, len(ranked))
        if len(items) < self.n_items:  # not yet rankable items come last, in id order
            rest = np.setdiff1d(np.arange(self.n_items), items)
            items = np.concatenate([items, rest])
            scores = np.concatenate([scores, np.full(len(rest), -1e9)])
        return items, scores

    def learn_slate(self, user: int, items: np.ndarray, rewards: np.ndarray) -> None:
        events = []
        for i, r in zip(items.tolist(), rewards.tolist()):
            self.t += 1.0
            events.append(
                {
                    "user": f"u{user}",
                    "item": f"i{i}",
                    "ts": 1.7e9 + self.t,
                    "context": self.context[user],
                    "type": "click" if r > 0 else "impression",
                }
            )
        self.rec.process_batch(events, n_candidates=0)
