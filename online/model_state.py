"""The persistence contract: everything a Recommender needs to continue bitwise.

``arrays``: flat numpy arrays, row axis first (they may grow between exports);
``vocab``: dense index -> external id (``"users"``, ``"items"``);
``meta``: JSON-serialisable counters and the configuration echo (``meta["config"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ModelState:
    """A snapshot of the engine (see module docstring)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, int | float | str] = field(default_factory=dict)

    def nbytes(self) -> int:
        """Total size of the arrays in bytes."""
        return int(sum(a.nbytes for a in self.arrays.values()))
