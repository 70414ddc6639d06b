"""River ``reco.BiasedMF`` with one sampled negative per positive, as a replay baseline.

Squared loss on implicit labels (1 for the event's item, 0 for one item drawn uniformly
from the items observed so far). Prediction and ranking score:

    r(u, j) = mu + b_u + b_j + <p_u, q_j>;   for ranking only  b_j + <p_u, q_j>  matters

Item biases/factors are mirrored into numpy arrays after each update of that item, so a
ranking is one matrix-vector product over the candidates.

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> ev = [ClickEvent(str(n), 1.7e9 + n, f"u{n % 5}", f"i{n % 7}") for n in range(40)]
>>> ranks = RiverMF(seed=1).evaluate_and_learn(ev, np.ones(40, dtype=bool))
>>> ranks.dtype.name, int(ranks.max()) <= 7
('int32', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from river import optim, reco

from streamrec.replay.baselines._candidates import CandidateTracker
from streamrec.replay.baselines._stream import grow


class RiverMF:
    """River BiasedMF baseline; implements ``PrequentialModel``."""

    name = "river-mf"

    def __init__(
        self,
        n_factors: int = 10,
        lr: float = 0.05,
        bias_lr: float = 0.025,
        l2: float = 0.0,
        n_negatives: int = 1,
        seed: int = 42,
        max_events: int | None = None,
    ) -> None:
        self.model = reco.BiasedMF(
            n_factors=n_factors,
            bias_optimizer=optim.SGD(bias_lr),
            latent_optimizer=optim.SGD(lr),
            l2_bias=l2,
            l2_latent=l2,
            latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=seed),
            seed=seed,
        )
        self.k = n_factors
        self.n_negatives = n_negatives
        self.max_events = max_events
        self.rng = np.random.default_rng(seed)
        self.cands = CandidateTracker()
        self.item_b = np.zeros(0)
        self.item_q = np.zeros((0, n_factors))

    def _refresh(self, j: int) -> None:
        item = self.cands.items[j]
        self.item_b[j] = self.model.i_biases.get(item, 0.0)
        q = self.model.i_latents.get(item)
        self.item_q[j] = 0.0 if q is None else q

    def scores(self, user: str) -> np.ndarray:
        """Item-dependent part of the prediction for items ``0..n_seen-1``."""
        n = self.cands.n_seen
        p = self.model.u_latents.get(user)
        if p is None:
            return self.item_b[:n].copy()
        return self.item_b[:n] + self.item_q[:n] @ p

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        ranks = np.zeros(len(events), dtype=np.int32)
        c = self.cands
        for t, e in enumerate(events):
            j = c.index(e.item)
            self.item_b = grow(self.item_b, j + 1, 0.0)
            self.item_q = grow(self.item_q, j + 1, 0.0)
            if evaluate[t] and c.is_candidate(e.user, j):
                ranks[t] = c.rank(self.scores(e.user), e.user, j)
            label = 1.0 if e.is_positive else 0.0
            self.model.learn_one(e.user, e.item, label)
            touched = [j]
            if label and c.n_seen > 1:
                for n in self.rng.integers(0, c.n_seen, size=self.n_negatives):
                    if n != j:
                        self.model.learn_one(e.user, c.items[n], 0.0)
                        touched.append(int(n))
            for n in touched:
                self._refresh(n)
            c.observe(e.user, j, bool(label))
        return ranks
