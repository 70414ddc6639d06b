"""Reference models for prequential replay, each implementing ``PrequentialModel``.

Fast counting baselines (one ``@njit`` kernel each): :class:`Popularity`, :class:`DecayedPopularity`,
:class:`Transitions`.
Recency-weighted neighbourhood anchors (issue 11, PROTOCOL.md figures): :class:`ItemKNN`,
:class:`SKNN`, :class:`VSKNN` (fast, ``@njit``), :class:`EASE`, :class:`EASETransitions`
(retrained every 1,000 events, ~1k events/s).
River baselines (slow, pure Python, imported lazily): :class:`RiverFM`, :class:`RiverMF`.
"""

from typing import Any

from streamrec.replay.baselines.decayed_popularity import DecayedPopularity
from streamrec.replay.baselines.ease import EASE, EASETransitions
from streamrec.replay.baselines.item_knn import ItemKNN
from streamrec.replay.baselines.popularity import Popularity
from streamrec.replay.baselines.session_knn import SKNN, VSKNN
from streamrec.replay.baselines.transitions import Transitions

__all__ = [
    "EASE",
    "SKNN",
    "VSKNN",
    "DecayedPopularity",
    "EASETransitions",
    "ItemKNN",
    "Popularity",
    "RiverFM",
    "RiverMF",
    "Transitions",
]


def __getattr__(name: str) -> Any:
    if name == "RiverFM":
        from streamrec.replay.baselines.river_fm import RiverFM

        return RiverFM
    if name == "RiverMF":
        from streamrec.replay.baselines.river_mf import RiverMF

        return RiverMF
    raise AttributeError(name)
