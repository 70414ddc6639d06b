"""One shard's side of the delta exchange: emit its deltas, merge the others' once.

A shard is a ``Recommender`` serving the users whose key hashes to it. ``ShardSync``
keeps its ``ShardBase``, its own sequence numbers and, per origin, the cursor
``(run, last seq applied)``: a delta of a known run with ``seq <= last`` is skipped, so
merging is idempotent; a new run of an origin (a restart with a new run id) starts a new
cursor. ``cursor()`` / ``restore_cursor()`` carry it through a snapshot.

>>> from streamrec.online.recommender import Recommender, RecommenderConfig
>>> cfg = RecommenderConfig(n_buckets=1024, k=4)
>>> a, b = ShardSync(Recommender(cfg), 0, "r"), ShardSync(Recommender(cfg), 1, "r")
>>> a.rec.learn_one({"user": "u", "item": "x"})
>>> d = a.emit()
>>> b.merge(d), b.merge(d), "x" in b.rec.catalog.items
(True, False, True)
"""

from __future__ import annotations

from typing import Any

from streamrec.online.hashing import hash64
from streamrec.online.hyper import hyper
from streamrec.online.shard_base import ShardBase, take_delta
from streamrec.online.shard_delta import Delta
from streamrec.online.shard_merge import merge_into
from streamrec.online.shard_round import own_correction


def shard_of(user: str, n_shards: int) -> int:
    """The shard serving ``user``: ``hash64("shard:" + user) % n_shards`` (stable across
    processes and runs). The replay splits users by it over all shards, the flow over the
    shards of the process that read the click (``flows.shard_routing``)."""
    return hash64("shard:" + str(user)) % max(int(n_shards), 1)


class ShardSync:
    """Delta exchange of shard ``origin`` (run ``run``) around the engine ``rec``."""

    def __init__(self, rec: Any, origin: int, run: str) -> None:
        self.rec, self.origin, self.run = rec, int(origin), str(run)
        self.seq = 0
        self._base = ShardBase(rec.state, len(rec.catalog.item_ids))
        self._cursor: dict[int, tuple[str, int]] = {}
        self._growth = hyper(rec.config).growth

    def pending_events(self) -> int:
        """Local events learned since the last delta."""
        return int(self.rec.state.ctr[0]["events"]) - self._base.events

    def emit(self) -> Delta:
        """The delta of the shared rows changed since the previous one (numbered ``seq``)."""
        head = (self.origin, self.run, self.seq)
        d = take_delta(self.rec.state, self._base, self.rec.catalog.item_ids, head, self._growth)
        self.seq += 1
        return d

    def merge(self, d: Delta) -> bool:
        """Apply another shard's delta once; False if it was applied before (or is ours).
        Raises ``ValueError`` (engine unchanged) on a malformed delta."""
        if d.origin == self.origin and d.run == self.run:
            return False
        last = self._cursor.get(d.origin)
        if last is not None and last[0] == d.run and d.seq <= last[1]:
            return False
        merge_into(self.rec, self._base, d, self._growth)
        self._cursor[d.origin] = (d.run, d.seq)
        return True

    def correct_own(self, own: Delta, weighted: Delta) -> None:
        """Replace this shard's whole move ``own`` by its round share ``weighted``
        (``online.shard_round``)."""
        merge_into(self.rec, self._base, own_correction(own, weighted), self._growth)

    def cursor(self) -> dict[int, tuple[str, int]]:
        """Origin -> (run, last seq applied), for a snapshot."""
        return dict(self._cursor)

    def restore_cursor(self, cursor: dict[int, tuple[str, int]], seq: int) -> None:
        """Continue from a snapshot: the cursor and this shard's next sequence number."""
        self._cursor = {int(k): (str(r), int(s)) for k, (r, s) in cursor.items()}
        self.seq = int(seq)
