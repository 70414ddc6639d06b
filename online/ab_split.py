"""Deterministic A/B split of users into arms by a salted hash.

``u = blake2b(salt | user) / 2**64`` is uniform in [0, 1) and stable across
processes (Python's ``hash`` is not); the user goes to the first arm whose
cumulative share exceeds u. Shares must be positive and sum to 1 (within 1e-9;
they are then normalised).

>>> from streamrec.online.ab_split import ABSplit
>>> ab = ABSplit({"control": 0.5, "explore": 0.5}, salt="exp1")
>>> ab.arm_for("user-42") == ab.arm_for("user-42")
True
>>> ab.arm_for("user-42") in ("control", "explore")
True
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Mapping


class ABSplit:
    """Users -> arms by a salted hash with the given shares."""

    def __init__(self, arms: Mapping[str, float], salt: str = ""):
        if not arms:
            raise ValueError("at least one arm is required")
        shares = {str(k): float(v) for k, v in arms.items()}
        for name, s in shares.items():
            if not math.isfinite(s) or s <= 0.0:
                raise ValueError(f"arm {name!r} has share {s}; shares must be > 0")
        total = sum(shares.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"shares sum to {total}, not 1")
        self.arms = {k: v / total for k, v in shares.items()}
        self.salt = salt
        self._names = list(self.arms)
        acc, self._bounds = 0.0, []
        for v in self.arms.values():
            acc += v
            self._bounds.append(acc)
        self._bounds[-1] = 1.0

    @classmethod
    def parse(cls, spec: str, salt: str = "") -> ABSplit:
        """From ``"control=0.5,explore=0.5"``."""
        arms = {}
        for part in spec.split(","):
            name, _, share = part.partition("=")
            if not name.strip() or not share.strip():
                raise ValueError(f"bad arm spec {part!r}; expected name=share")
            arms[name.strip()] = float(share)
        return cls(arms, salt)

    def bucket(self, user: str) -> float:
        """The user's uniform hash in [0, 1)."""
        h = hashlib.blake2b(f"{self.salt}|{user}".encode(), digest_size=8).digest()
        return int.from_bytes(h, "little") / 2.0**64

    def arm_for(self, user: str) -> str:
        """The arm of ``user`` (same answer in every process for the same salt)."""
        return self._names[min(bisect.bisect_right(self._bounds, self.bucket(user)), len(self._names) - 1)]
