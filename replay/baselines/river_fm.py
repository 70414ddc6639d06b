"""River ``facto.FMClassifier`` with side features and sampled negatives, as a replay baseline.

Features (one-hot, value 1): ``user_<u>``, ``item_<i>``, ``ctx_<key>=<value>`` for the event
context (user attributes), ``attr_<key>=<value>`` for item attributes (multi-valued allowed);
numeric context/attribute values enter as they are. The FM logit is

    y(x) = w0 + sum_f w_f x_f + sum_{f<g} <v_f, v_g> x_f x_g

An event's item attributes replace the item's after the event is ranked (a rank never sees
attributes that arrive with or after its event). Each positive is learned with label 1 and ``n_negatives`` items drawn uniformly from the
items observed so far (never the positive) with label 0, same user side. Ranking uses
River's own parameters: with user-side features U and item-side features I_j,

    y_j - const = sum_{f in I_j} w_f + <sum_{g in U} v_g, T_j> + (|T_j|^2 - sum_{f in I_j} |v_f|^2) / 2,
    T_j = sum_{f in I_j} v_f

computed for all candidates with numpy (identical ordering to ``predict_proba_one``, which
would take ~1,700 Python calls per ranking). River's ``learn_one`` is the slow part
(~1k events/s with 4 negatives): set ``max_events`` to replay only a prefix.

>>> import numpy as np
>>> from streamrec.contract.events import ClickEvent
>>> ev = [ClickEvent(str(n), 1.7e9 + n, f"u{n % 5}", f"i{n % 7}", context={"g": "F"})
...       for n in range(40)]
>>> ranks = RiverFM(seed=1).evaluate_and_learn(ev, np.ones(40, dtype=bool))
>>> ranks.dtype.name, int(ranks.max()) <= 7
('int32', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from river import facto, optim

from streamrec.replay.baselines._candidates import CandidateTracker
from streamrec.replay.baselines._stream import grow


def side_features(prefix: str, mapping: Mapping[str, Any]) -> dict[str, float]:
    """Flatten context/attributes into FM features: one-hot strings, multi-hot lists, numbers."""
    out: dict[str, float] = {}
    for k, v in mapping.items():
        if isinstance(v, bool) or isinstance(v, str):
            out[f"{prefix}_{k}={v}"] = 1.0
        elif isinstance(v, (int, float)):
            out[f"{prefix}_{k}"] = float(v)
        else:
            for x in v:
                out[f"{prefix}_{k}={x}"] = 1.0
    return out


class RiverFM:
    """River FMClassifier baseline; implements ``PrequentialModel``."""

    name = "river-fm"

    def __init__(
        self,
        n_factors: int = 10,
        lr: float = 0.05,
        n_negatives: int = 4,
        side_info: bool = True,
        seed: int = 42,
        max_events: int | None = None,
    ) -> None:
        self.model = facto.FMClassifier(
            n_factors=n_factors, weight_optimizer=optim.SGD(lr), latent_optimizer=optim.SGD(lr), seed=seed
        )
        self.k = n_factors
        self.n_negatives = n_negatives
        self.side_info = side_info
        self.max_events = max_events
        self.rng = np.random.default_rng(seed)
        self.cands = CandidateTracker()
        self.item_side: list[dict[str, float]] = []  # latest item-side features per dense id
        self.item_w = np.zeros(0)
        self.item_v = np.zeros((0, n_factors))
        self.attr_keys: dict[str, int] = {}
        self.attr_x = np.zeros((0, 0))  # [item, attribute feature] values

    def _user_side(self, e: Any) -> dict[str, float]:
        x = {f"user_{e.user}": 1.0}
        if self.side_info:
            x.update(side_features("ctx", e.context))
        return x

    def _slot(self, item: str) -> int:
        """Dense id of ``item``, growing the per-item arrays on first sight."""
        j = self.cands.index(item)
        if j == len(self.item_side):
            self.item_side.append({})
            self.item_w = grow(self.item_w, j + 1, 0.0)
            self.item_v = grow(self.item_v, j + 1, 0.0)
            self.attr_x = grow(self.attr_x, j + 1, 0.0)
        return j

    def _apply_attributes(self, j: int, e: Any) -> None:
        """Item j's side features become the event's attributes (when it carries any)."""
        if self.side_info and (e.item_attributes or not self.item_side[j]):
            attrs = side_features("attr", e.item_attributes)
            for key in attrs:
                if key not in self.attr_keys:
                    self.attr_keys[key] = len(self.attr_keys)
            if self.attr_x.shape[1] < len(self.attr_keys):
                wider = np.zeros((self.attr_x.shape[0], 2 * len(self.attr_keys)))
                wider[:, : self.attr_x.shape[1]] = self.attr_x
                self.attr_x = wider
            self.attr_x[j] = 0.0
            for key, v in attrs.items():
                self.attr_x[j, self.attr_keys[key]] = v
            self.item_side[j] = attrs

    def _refresh(self, j: int) -> None:
        key = f"item_{self.cands.items[j]}"
        self.item_w[j] = self.model.weights.get(key, 0.0)
        v = self.model.latents.get(key)
        self.item_v[j] = 0.0 if v is None else v

    def scores(self, user_side: Mapping[str, float]) -> np.ndarray:
        """Item-dependent part of the FM logit for items ``0..n_seen-1``."""
        n = self.cands.n_seen
        weights, latents = self.model.weights, self.model.latents
        zero = np.zeros(self.k)
        s_u = sum((latents.get(f, zero) * x for f, x in user_side.items()), zero)
        keys = list(self.attr_keys)
        w_a = np.array([weights.get(f, 0.0) for f in keys])
        v_a = np.array([latents.get(f, zero) for f in keys]).reshape(len(keys), self.k)
        xa = self.attr_x[:n, : len(keys)]
        iv = self.item_v[:n]
        t = iv + xa @ v_a
        lin = self.item_w[:n] + xa @ w_a
        intra = 0.5 * ((t * t).sum(1) - (iv * iv).sum(1) - (xa * xa) @ (v_a * v_a).sum(1))
        return lin + t @ s_u + intra

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        ranks = np.zeros(len(events), dtype=np.int32)
        c = self.cands
        for t, e in enumerate(events):
            j = self._slot(e.item)
            user_side = self._user_side(e)
            if evaluate[t] and c.is_candidate(e.user, j):
                ranks[t] = c.rank(self.scores(user_side), e.user, j)
            self._apply_attributes(j, e)  # after ranking: the event's attributes are not known before it
            label = bool(e.is_positive)
            self.model.learn_one({**user_side, f"item_{e.item}": 1.0, **self.item_side[j]}, label)
            touched = [j]
            if label and c.n_seen > 1:
                for n in self.rng.integers(0, c.n_seen, size=self.n_negatives):
                    if n == j:
                        continue
                    x = {**user_side, f"item_{c.items[n]}": 1.0, **self.item_side[n]}
                    self.model.learn_one(x, False)
                    touched.append(int(n))
            for n in touched:
                self._refresh(n)
            c.observe(e.user, j, label)
        return ranks
