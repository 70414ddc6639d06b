"""Stable feature hashing and a counter-based random number generator.

Feature rows: ``row(s) = N_RESERVED + blake2b64(s) mod (n_rows - N_RESERVED)``; rows
``0 .. N_RESERVED-1`` hold the numeric (count) features. Random numbers come from one
counter-based formula, ``counter_uniform(seed, counter, j)`` (``splitmix64`` of the seed
and counter), so a kernel's random draws are a pure function of the seed and the event
counter: exported state fully determines the future. ``mix64`` (the splitmix64
finaliser) is the one 64-bit mixer; other modules import it rather than repeat it.

>>> h = FeatureHasher(n_rows=1024)
>>> h.row("u=alice") == h.row("u=alice") and N_RESERVED <= h.row("u=alice") < 1024
True
>>> 0.0 <= float(counter_uniform(7, 3, 1)) < 1.0
True
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

from streamrec.online.jit import kernel

#: Rows reserved for numeric item-side features (see ``online.scoring``).
N_RESERVED = 8

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_MASK64 = (1 << 64) - 1


def hash64(s: str) -> int:
    """A 63-bit hash of a string, stable across processes and platforms."""
    h = hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFF_FFFF_FFFF_FFFF


@njit(cache=True)  # NRT on: also maps uint64 arrays (allocates)
def mix64(z):
    """The splitmix64 finaliser (a bijection on 64-bit integers with good avalanche); the
    one mixer of the project (scalars or uint64 arrays, wrap-around arithmetic)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@kernel()
def splitmix64(x: np.uint64) -> np.uint64:
    """One splitmix64 output: ``mix64(x + golden)``."""
    return mix64(x + _GOLD)


@kernel()
def counter_uniform(seed: int, counter: int, j: int) -> float:
    """Uniform [0, 1) draw number ``j`` at event ``counter`` for ``seed``."""
    h = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(counter) * _GOLD + np.uint64(j)))
    return float(h >> _S11) * (1.0 / 9007199254740992.0)


@kernel()
def seq_row(item_key: int, position: int, n_rows: int) -> int:
    """Row of the sequence feature "the user's ``position``-th previous item was ``item``"."""
    h = splitmix64(np.uint64(item_key) ^ splitmix64(np.uint64(position + 1)))
    return int(N_RESERVED + np.int64(h % np.uint64(n_rows - N_RESERVED)))


class FeatureHasher:
    """Maps feature strings to rows of a table of ``n_rows`` rows, with a bounded cache."""

    def __init__(self, n_rows: int, max_cache: int = 1_000_000) -> None:
        if n_rows <= N_RESERVED:
            raise ValueError("n_rows must exceed the reserved rows")
        self.n_rows = n_rows
        self.max_cache = max_cache
        self._cache: dict[str, int] = {}

    def row(self, s: str) -> int:
        """The row of feature string ``s``."""
        r = self._cache.get(s)
        if r is None:
            if len(self._cache) >= self.max_cache:
                self._cache.clear()
            r = N_RESERVED + hash64(s) % (self.n_rows - N_RESERVED)
            self._cache[s] = r
        return r
