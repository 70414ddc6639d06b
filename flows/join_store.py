"""The reward join's state in the model's RocksDB, written incrementally with each epoch commit.

Its three collections are FIFO queues with sequence numbers (see
:class:`flows.reward_join.RewardJoiner`), stored one entry per key::

    j/p/<seq:016d> -> pending decision (orjson)     j/c/<seq> -> closed rec_id (UTF-8)
    j/s/<seq>      -> seen event id (UTF-8)         j/meta    -> limits, counters, queue bounds

:meth:`JoinStore.ops` returns what changed since the previous call -- one delete range per
queue for the entries dropped at its front, one put per new entry and per clicked pending
decision, and the meta -- for :meth:`state.store.ParamStore.save` to add to the epoch's
WriteBatch. So an epoch commit costs O(decisions changed in the epoch) and the Bytewax
snapshot no longer carries the whole join state (100k pending decisions: ~30 MB pickled).
:func:`load_joiner` rebuilds the joiner from the keys of a restored epoch.

>>> from streamrec.flows.reward_join import RewardJoiner
>>> j, js = RewardJoiner(window_s=60), JoinStore()
>>> j.record_decision("r1", "u1", 100.0, ["a", "b"], [0.9, 0.1], "greedy", "v1")
>>> kv = {}
>>> puts, ranges = js.ops(j)
>>> kv.update(puts)
>>> load_joiner(sorted(kv.items()), 60).to_dict() == j.to_dict()
True
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from itertools import islice
from typing import Any

import orjson

from streamrec.flows.reward_join import _TUPLES, RewardJoiner

PREFIX = b"j/"
META_KEY = b"j/meta"
_QUEUES = ("p", "c", "s")


_PFX = {q: b"j/" + q.encode() + b"/" for q in _QUEUES}


def _key(q: str, seq: int) -> bytes:
    return _PFX[q] + b"%016d" % seq


class JoinStore:
    """Remembers what was persisted last, to emit only the changes."""

    def __init__(self, persisted: dict[str, list[int]] | None = None) -> None:
        #: queue bounds as last written; None = unknown, so the next ops rewrite everything
        self.persisted = {q: list(v) for q, v in persisted.items()} if persisted else None

    def ops(self, j: RewardJoiner) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        """(puts, delete ranges) that bring the stored join state to ``j``'s."""
        puts: list[tuple[bytes, bytes]] = []
        ranges: list[tuple[bytes, bytes]] = []
        queues: dict[str, OrderedDict[str, Any]] = {"p": j.pending, "c": j.closed, "s": j.seen_events}
        if self.persisted is None:
            ranges.append((PREFIX, b"j0"))  # b"j0" sorts right after every b"j/..." key
        first_new = {}
        for q in _QUEUES:
            head, nxt = j.seq[q]
            old_head, old_next = self.persisted[q] if self.persisted else (head, head)
            if head > old_head:
                ranges.append((_key(q, old_head), _key(q, head)))
            first_new[q] = max(old_next, head)
            n_new = nxt - first_new[q]
            if n_new > 0:
                tail = list(islice(reversed(queues[q].items()), n_new))[::-1]
                pfx, base = _PFX[q], first_new[q]
                if q == "p":
                    dumps = orjson.dumps
                    puts += [(pfx + b"%016d" % (base + i), dumps(d)) for i, (_, d) in enumerate(tail)]
                else:  # ids: their UTF-8 bytes (the contract guarantees encodable ids)
                    puts += [(pfx + b"%016d" % (base + i), rid.encode()) for i, (rid, _) in enumerate(tail)]
        for rid in j.touched:  # clicked decisions written before: rewrite them
            d = j.pending.get(rid)
            if d is not None and d["seq"] < first_new["p"]:
                puts.append((_key("p", d["seq"]), orjson.dumps(d)))
        j.touched.clear()
        meta = {
            "window_s": j.window_s,
            "max_pending": j.max_pending,
            "max_remembered": j.max_remembered,
            "max_per_user": j.max_per_user,
            "counters": j.counters,
            "seq": j.seq,
        }
        puts.append((META_KEY, orjson.dumps(meta)))
        self.persisted = {q: list(v) for q, v in j.seq.items()}
        return puts, ranges


def load_joiner(items: Iterable[tuple[bytes, bytes]], window_s: float) -> RewardJoiner | None:
    """The joiner stored under ``j/`` (``items`` in key order), or None if none is stored."""
    meta: dict[str, Any] | None = None
    entries: dict[str, list[Any]] = {q: [] for q in _QUEUES}
    for key, value in items:
        if key == META_KEY:
            meta = orjson.loads(value)
        elif key[:2] == PREFIX and key[3:4] == b"/" and key[2:3].decode() in entries:
            q = key[2:3].decode()
            entries[q].append(orjson.loads(value) if q == "p" else value.decode())
    if meta is None:
        return None
    j = RewardJoiner(window_s, meta["max_pending"], meta["max_remembered"], meta["max_per_user"])
    for d in entries["p"]:
        for name in _TUPLES:
            if name in d:
                d[name] = tuple(d[name])
        d["context"] = {k: tuple(v) if isinstance(v, list) else v for k, v in d["context"].items()}
        j.pending[d["rec_id"]] = d
        j.by_user.setdefault(d["user"], []).append(d["rec_id"])
    j.closed = OrderedDict.fromkeys(entries["c"])
    j.seen_events = OrderedDict.fromkeys(entries["s"])
    j.counters.update(meta["counters"])
    j.seq = {q: list(v) for q, v in meta["seq"].items()}
    return j
