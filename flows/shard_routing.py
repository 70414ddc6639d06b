"""Routing of the sharded flow: each message to a shard of the process that read it, each
delta to every shard.

``S`` shards run on ``W = P x w`` Bytewax workers (``S`` a multiple of ``W``); shard ``s`` has
the key ``shard_keys(S, W)[s]``, which Bytewax routes to worker ``s mod W``, of process
``(s mod W) // w`` (:func:`local_shards`). A click event or request stays in the process
whose source read it: it goes to ``local[shard_of(user, len(local))]`` among that process's
shards ``local`` (no parsing when there is one). Producers key clicks by user, so a user's
events share one partition, which Bytewax gives to one worker for the whole run (the
topology is fixed, see ``state.run_topology``): the user always meets the same shard, and no
event crosses to another process through Bytewax's exchange (which pickles it). Item
metadata goes to every shard (each keeps the whole catalog); an input that is not a JSON
object with a user goes to the first local shard, whose engine turns it into a dead letter.
A delta goes to every shard but its origin (the message key).

>>> import types
>>> route = Router(shard_keys(4, 2), local=[1, 3])
>>> m = types.SimpleNamespace(topic="clicks", value=b'{"user": "u1"}', key=None)
>>> [s for _, (s, _) in route(m)] == [[1, 3][shard_of("u1", 2)]]
True
>>> len(fan_out(shard_keys(4, 2), skip_origin=False)(types.SimpleNamespace(value=b"{}", key=b"1")))
4
>>> local_shards(4, n_processes=2, workers_per_process=1, process_id=1)
[1, 3]
>>> check_layout(3, 2)
Traceback (most recent call last):
...
streamrec.flows.shard_routing.ShardLayoutError: 3 shards cannot be spread evenly over 2 workers (2 processes x 1 workers); use --shards a multiple of 2
"""

from __future__ import annotations

from typing import Any

import orjson

from streamrec.flows.shard_keys import shard_keys
from streamrec.online.shard_sync import shard_of

__all__ = ["Router", "ShardLayoutError", "check_layout", "fan_out", "local_shards", "shard_keys"]


class ShardLayoutError(ValueError):
    """The shards cannot be spread evenly over the cluster's workers."""


def check_layout(n_shards: int, n_processes: int, workers_per_process: int = 1) -> list[str]:
    """The shard keys of ``n_shards`` over ``n_processes * workers_per_process`` workers, or
    :class:`ShardLayoutError` in one line."""
    workers = n_processes * workers_per_process
    if n_shards < 1 or workers < 1 or n_shards % workers:
        raise ShardLayoutError(
            f"{n_shards} shards cannot be spread evenly over {workers} workers ({n_processes} processes x "
            f"{workers_per_process} workers); use --shards a multiple of {workers}"
        )
    return shard_keys(n_shards, workers)


def local_shards(n_shards: int, n_processes: int, workers_per_process: int, process_id: int) -> list[int]:
    """The shards whose worker (``s mod W``, ``W = n_processes * workers_per_process``) runs
    in process ``process_id``."""
    workers = n_processes * workers_per_process
    return [s for s in range(n_shards) if (s % workers) // workers_per_process == process_id]


def _user(value: Any) -> str | None:
    try:
        obj = orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError):
        return None
    user = obj.get("user") if isinstance(obj, dict) else None
    return None if user is None else str(user)


class Router:
    """``click or request -> [(shard key, (shard, message))]`` (see the module docstring)."""

    def __init__(self, keys: list[str], local: list[int] | None = None) -> None:
        self.keys = list(keys)
        self.local = list(range(len(self.keys))) if local is None else list(local)
        if not self.local:
            raise ValueError("a process without shards cannot route its input")

    def __call__(self, msg: Any) -> list[tuple[str, tuple[int, Any]]]:
        s = self.local[0]
        if len(self.local) > 1:
            user = _user(getattr(msg, "value", None))
            s = s if user is None else self.local[shard_of(user, len(self.local))]
        return [(self.keys[s], (s, msg))]


def fan_out(keys: list[str], skip_origin: bool = True):
    """``message -> [(shard key, (shard, message))]`` for every shard: item metadata
    (``skip_origin=False``), or a delta, which skips its origin (the message key)."""

    def fan(msg: Any) -> list[tuple[str, tuple[int, Any]]]:
        key = getattr(msg, "key", None) if skip_origin else None
        origin = int(key) if isinstance(key, bytes) and key.isdigit() else -1
        return [(k, (s, msg)) for s, k in enumerate(keys) if s != origin]

    return fan
