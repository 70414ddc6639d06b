"""The reward join's state in the model's RocksDB, written in blocks as the flow runs.

Its three collections are FIFO queues with sequence numbers (see
:class:`flows.reward_join.RewardJoiner`). They are stored as blocks of consecutive entries,
one block per :meth:`JoinStore.encode` (the flow calls it after each batch, so the encoding
is spread over the epoch instead of stalling its commit)::

    j/p/<first seq:016d> -> orjson list of pending decisions (as recorded, ``clicked`` empty)
    j/c/<first seq>      -> orjson list of closed rec_ids
    j/s/<first seq>      -> orjson list of seen event ids
    j/k/<seq>            -> orjson list of the items clicked so far in decision ``seq``
    j/meta               -> limits, counters, queue bounds, format

Entry ``i`` of a block has sequence number ``first + i``; a queue's entries below its front
(``seq[q][0]``) are dropped on load, and a block is deleted once all its entries are. Clicks
change a decision after it was encoded, so they are stored apart, one small key per
clicked decision and epoch, encoded by :meth:`JoinStore.encode` too (a decision that leaves
the queue before the commit loses its key again). :meth:`JoinStore.ops` returns the epoch's
operations for :meth:`state.store.ParamStore.save` / the epoch commit: O(entries added in
the epoch), and their encoding already done but for what changed since the last ``encode``.
:func:`load_join` rebuilds the joiner (and the store's bookkeeping) from the keys of a
restored epoch; stores of the one-entry-per-key format before it load too, and are
rewritten whole by the next commit.

>>> from streamrec.flows.reward_join import RewardJoiner
>>> j, js = RewardJoiner(window_s=60), JoinStore()
>>> j.record_decision("r1", "u1", 100.0, ["a", "b"], [0.9, 0.1], "greedy", "v1")
>>> js.encode(j)
>>> kv = {}
>>> puts, ranges = js.ops(j)
>>> kv.update(puts)
>>> back, _ = load_join(sorted(kv.items()), 60)
>>> back.to_dict() == j.to_dict()
True
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from itertools import compress, islice
from typing import Any

import numpy as np
import orjson

from streamrec.flows.reward_join import _TUPLES, RewardJoiner

PREFIX = b"j/"
META_KEY = b"j/meta"
FORMAT = 2  # 1: one entry per key (values: a decision's JSON object or an id's UTF-8)
_QUEUES = ("p", "c", "s")
_PFX = {q: b"j/" + q.encode() + b"/" for q in (*_QUEUES, "k")}


def _key(q: str, seq: int) -> bytes:
    return _PFX[q] + b"%016d" % seq


def _queue(j: RewardJoiner, q: str) -> OrderedDict[str, Any]:
    if q == "p":
        return j.pending
    return j.closed if q == "c" else j.seen_events


class JoinStore:
    """What of a joiner is stored (or encoded for the next commit), to write only the changes.

    ``encoded[q]`` is the sequence number of the next entry of queue ``q`` to encode,
    ``blocks[q]`` the first sequence numbers of its stored blocks; ``None`` (nothing known
    of what is stored) makes the next :meth:`ops` delete ``j/`` and write everything."""

    def __init__(
        self,
        encoded: dict[str, int] | None = None,
        blocks: dict[str, list[int]] | None = None,
        clicks_from: int = 0,
    ) -> None:
        self.encoded = dict(encoded) if encoded is not None else None
        self.blocks = {q: list(blocks.get(q, [])) for q in _QUEUES} if blocks else {q: [] for q in _QUEUES}
        self._puts: list[tuple[bytes, bytes]] = []
        self._clicks: list[tuple[bytes, bytes]] = []  # j/k/ puts encoded since the last ops
        self._click_seqs: list[int] = []  # the decision seq of each
        self._clicks_from = clicks_from  # j/k/ keys below this decision seq are deleted

    def encode(self, j: RewardJoiner) -> None:
        """Encode the entries added to ``j`` since the last call as one block per queue, and
        the clicks of the decisions clicked since (``j.touched``, then cleared)."""
        if self.encoded is None:
            return  # the next ops rewrites everything anyway
        pending, clicks, seqs = j.pending, self._clicks, self._click_seqs
        for rid in j.touched:
            d = pending.get(rid)
            if d is not None and d["clicked"]:
                clicks.append((_key("k", d["seq"]), orjson.dumps(d["clicked"])))
                seqs.append(d["seq"])
        j.touched.clear()
        for q in _QUEUES:
            head, nxt = j.seq[q]
            first = max(self.encoded[q], head)
            if nxt > first:
                tail = list(islice(reversed(_queue(j, q).items()), nxt - first))[::-1]
                values = [d for _, d in tail] if q == "p" else [k for k, _ in tail]
                self._puts.append((_key(q, first), orjson.dumps(values)))
                self.blocks[q].append(first)
            self.encoded[q] = nxt

    def ops(self, j: RewardJoiner) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        """(puts, delete ranges) that bring the stored join state to ``j``'s."""
        ranges: list[tuple[bytes, bytes]] = []
        if self.encoded is None:
            ranges.append((PREFIX, b"j0"))  # b"j0" sorts right after every b"j/..." key
            self.encoded, self.blocks, self._puts = {q: j.seq[q][0] for q in _QUEUES}, {q: [] for q in _QUEUES}, []
        self.encode(j)
        puts, self._puts = self._puts, []
        for q in _QUEUES:  # blocks whose every entry left the queue's front
            blocks, head = self.blocks[q], j.seq[q][0]
            n_gone = max(bisect_right(blocks, head) - 1, 0)  # the block holding ``head`` stays
            if n_gone:
                ranges.append((_PFX[q], _key(q, blocks[n_gone])))
                del blocks[:n_gone]
        head_p = j.seq["p"][0]
        if head_p > self._clicks_from:
            ranges.append((_PFX["k"], _key("k", head_p)))
            self._clicks_from = head_p
        # ranges are applied before puts: the clicks of decisions gone since are left out
        puts += compress(
            self._clicks, (np.fromiter(self._click_seqs, np.int64, len(self._click_seqs)) >= head_p).tolist()
        )
        self._clicks, self._click_seqs = [], []
        meta = {
            "format": FORMAT,
            "window_s": j.window_s,
            "max_pending": j.max_pending,
            "max_remembered": j.max_remembered,
            "max_per_user": j.max_per_user,
            "counters": j.counters,
            "seq": j.seq,
        }
        puts.append((META_KEY, orjson.dumps(meta)))
        return puts, ranges


def load_join(items: Iterable[tuple[bytes, bytes]], window_s: float) -> tuple[RewardJoiner, JoinStore] | None:
    """The joiner stored under ``j/`` (``items`` in key order) and the store that continues
    it, or None if none is stored."""
    meta: dict[str, Any] | None = None
    raw: dict[str, list[tuple[int, bytes]]] = {q: [] for q in _PFX}
    for key, value in items:
        if key == META_KEY:
            meta = orjson.loads(value)
        elif key[:2] == PREFIX and key[3:4] == b"/" and key[2:3].decode() in raw:
            raw[key[2:3].decode()].append((int(key[4:]), value))
    if meta is None:
        return None
    blocked = meta.get("format", 1) == FORMAT
    seq = {q: list(v) for q, v in meta["seq"].items()}
    entries: dict[str, list[Any]] = {}
    for q in _QUEUES:
        values: list[Any] = []
        for first, value in raw[q]:
            if blocked:
                values += orjson.loads(value)[max(seq[q][0] - first, 0) :]
            elif first >= seq[q][0]:
                values.append(orjson.loads(value) if q == "p" else value.decode())
        entries[q] = values
    j = RewardJoiner(window_s, meta["max_pending"], meta["max_remembered"], meta["max_per_user"])
    clicks = {s: v for s, v in raw["k"]}
    for d in entries["p"]:
        if d["seq"] in clicks:
            d["clicked"] = orjson.loads(clicks[d["seq"]])
        for name in _TUPLES:
            if name in d:
                d[name] = tuple(d[name])
        d["context"] = {k: tuple(v) if isinstance(v, list) else v for k, v in d["context"].items()}
        j.pending[d["rec_id"]] = d
        j.by_user.setdefault(d["user"], []).append(d["rec_id"])
    for ids in j.by_user.values():  # as live: a user's newest ``max_per_user`` pending decisions
        del ids[: -j.max_per_user]
    j.closed = OrderedDict.fromkeys(entries["c"])
    j.seen_events = OrderedDict.fromkeys(entries["s"])
    j.counters.update(meta["counters"])
    j.seq = seq
    if not blocked:
        return j, JoinStore()  # the next commit rewrites j/ in blocks
    blocks = {q: [first for first, _ in raw[q]] for q in _QUEUES}
    return j, JoinStore({q: seq[q][1] for q in _QUEUES}, blocks, clicks_from=seq["p"][0])
