"""Shard keys that spread evenly over a Bytewax cluster's workers.

Bytewax 0.21 sends a stateful step's key to worker ``h(key) mod W`` where ``h`` is Rust's
``DefaultHasher`` (SipHash-1-3 with zero keys) over the key's bytes followed by ``0xff``
(how Rust hashes a ``str``), ``W`` the total worker count. Naive names collide: with
``W = 2``, ``shard-0`` and ``shard-1`` land on the same worker. :func:`shard_keys` picks,
for ``S`` shards on ``W`` workers, names whose routes give every worker exactly ``S / W``
shards, shard ``s`` on worker ``s mod W``; :func:`bytewax_worker` is the routing itself.

>>> keys = shard_keys(4, 2)
>>> [bytewax_worker(k, 2) for k in keys]
[0, 1, 0, 1]
>>> shard_keys(3, 2)
Traceback (most recent call last):
...
ValueError: 3 shards cannot be spread evenly over 2 workers; use a multiple of 2
"""

from __future__ import annotations

MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 of ``data`` (one compression round, three finalisation rounds)."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    n_full = len(data) // 8 * 8
    for i in range(0, n_full, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    b = ((len(data) & 0xFF) << 56) | int.from_bytes(data[n_full:], "little")
    v3 ^= b
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def bytewax_worker(key: str, n_workers: int) -> int:
    """The worker index Bytewax routes a stateful step's ``key`` to, of ``n_workers``."""
    return siphash13(key.encode() + b"\xff") % n_workers


def shard_keys(n_shards: int, n_workers: int, prefix: str = "shard") -> list[str]:
    """``n_shards`` keys, shard ``s`` routed to worker ``s mod n_workers`` (see module doc)."""
    if n_shards < 1 or n_workers < 1 or n_shards % n_workers:
        raise ValueError(
            f"{n_shards} shards cannot be spread evenly over {n_workers} workers; use a multiple of {n_workers}"
        )
    keys = []
    for s in range(n_shards):
        want = s % n_workers
        salt = 0
        while bytewax_worker(f"{prefix}-{s}.{salt}", n_workers) != want:
            salt += 1
        keys.append(f"{prefix}-{s}.{salt}")
    return keys
