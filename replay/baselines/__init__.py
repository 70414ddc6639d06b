"""Reference models for prequential replay, each implementing ``PrequentialModel``.

Fast counting baselines (one ``@njit`` kernel each): :class:`Popularity`, :class:`DecayedPopularity`,
:class:`Transitions`. River baselines (slow, pure Python, imported lazily): :class:`RiverFM`,
:class:`RiverMF`.
"""

from typing import Any

from streamrec.replay.baselines.decayed_popularity import DecayedPopularity
from streamrec.replay.baselines.item_knn import ItemKNN
from streamrec.replay.baselines.popularity import Popularity
from streamrec.replay.baselines.transitions import Transitions

__all__ = ["Popularity", "DecayedPopularity", "Transitions", "ItemKNN", "RiverFM", "RiverMF"]


def __getattr__(name: str) -> Any:
    if name == "RiverFM":
        from streamrec.replay.baselines.river_fm import RiverFM

        return RiverFM
    if name == "RiverMF":
        from streamrec.replay.baselines.river_mf import RiverMF

        return RiverMF
    raise AttributeError(name)
