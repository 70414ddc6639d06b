"""The policy contract: pick a slate of k items from ranked candidates, with propensities.

A policy acts on the engine's candidates (``items``, ``scores``; padded scores
of ``-inf`` beyond ``len(items)`` are dropped). ``select`` returns a
:class:`Slate` whose ``propensities[s]`` is the position-wise marginal
``P(item shown in slot s | context)`` under the policy (the Open Bandit
Dataset convention). ``probabilities`` returns the whole matrix
``P[i, s] = P(candidate i shown in slot s)``: every column sums to 1 when
there are at least k candidates, every row sums to P(i shown at all) <= 1.

Ties in scores are broken by candidate order (earlier wins), NaN scores rank
last, +inf is clipped to the largest finite float, so bad scores never crash.
The same ``seed`` always gives the same slate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_BIG = 1e300


@dataclass(frozen=True, slots=True)
class Slate:
    """A shown slate: items in slot order, the model scores they had, their slot propensities."""

    items: np.ndarray
    scores: np.ndarray
    propensities: np.ndarray

    def __len__(self) -> int:
        return len(self.items)

    def as_tuples(self) -> list[tuple[str, float, float]]:
        """``[(item, score, propensity), ...]`` as ``recommendation_message`` expects."""
        return [(str(i), float(s), float(p)) for i, s, p in zip(self.items, self.scores, self.propensities)]


def as_candidates(
    items: Sequence[Any] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(items, raw scores, clean scores): truncated to the shorter input; clean has NaN -> -1e300, +-inf clipped."""
    items_arr = items if isinstance(items, np.ndarray) else np.asarray(list(items), dtype=object)
    raw = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = min(len(items_arr), raw.shape[0])
    items_arr, raw = items_arr[:n], raw[:n]
    if np.isfinite(raw).all():
        return items_arr, raw, raw
    clean = np.nan_to_num(raw, nan=-_BIG, posinf=_BIG, neginf=-_BIG)
    return items_arr, raw, clean


def rank_order(clean_scores: np.ndarray) -> np.ndarray:
    """Candidate indices best first (stable: ties keep candidate order)."""
    return np.argsort(-clean_scores, kind="stable")


class Policy:
    """Base class. Subclasses implement ``_draw`` and ``_marginals`` on clean scores."""

    name: str = "policy"

    def select(
        self,
        items: Sequence[Any] | np.ndarray,
        scores: Sequence[float] | np.ndarray,
        k: int,
        seed: int,
        context: Mapping[str, Any] | None = None,
        *,
        propensities: bool = True,
    ) -> Slate:
        """Draw a slate of ``min(k, n)`` items. ``propensities=False`` skips their
        computation (they come back as NaN) for simulations that do not log them."""
        items_arr, raw, clean = as_candidates(items, scores)
        n = clean.shape[0]
        k = max(0, min(int(k), n))
        if k == 0:
            empty = np.empty(0)
            return Slate(items_arr[:0], empty, empty)
        idx, props = self._draw(items_arr, clean, k, int(seed) & 0x7FFF_FFFF_FFFF_FFFF, propensities)
        if not propensities:
            props = np.full(k, np.nan)
        return Slate(items_arr[idx], raw[idx], props)

    def probabilities(
        self,
        items: Sequence[Any] | np.ndarray,
        scores: Sequence[float] | np.ndarray,
        k: int,
        context: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """Slot-marginal matrix [n_candidates, min(k, n)]."""
        items_arr, _, clean = as_candidates(items, scores)
        k = max(0, min(int(k), clean.shape[0]))
        if k == 0:
            return np.zeros((clean.shape[0], 0))
        return self._marginals(items_arr, clean, k)

    def update(self, item: Any, reward: float) -> None:
        """Feedback for a shown item; stateless policies ignore it."""

    @property
    def learns(self) -> bool:
        """Whether :meth:`update` keeps anything (a subclass overrides it), so a caller can
        skip building the feedback of a stateless policy."""
        return type(self).update is not Policy.update

    def learn_one(self, item: Any, reward: float) -> None:
        """River-style alias of :meth:`update`."""
        self.update(item, reward)

    # -- for subclasses ------------------------------------------------------------------
    def _draw(
        self, items: np.ndarray, clean: np.ndarray, k: int, seed: int, with_props: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _marginals(self, items: np.ndarray, clean: np.ndarray, k: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
