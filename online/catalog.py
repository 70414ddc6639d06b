"""The catalog: vocabularies (users, items), item attributes and event encoding.

Users and items get dense indices in arrival order; an item's static rows are
``i=<item>`` then ``a:<key>=<value>`` per attribute (at most ``max_item_features``); a
request's user rows are ``u=<user>`` then ``c:<key>=<value>`` per context entry (cached
per user while the context is unchanged). A malformed event encodes to user -1 (skipped,
``learned=False``) and never raises. The catalog writes no engine arrays: ``encode``
returns the encoded batch and the item rows to write (``ItemRows``: new items, and
attribute changes of known items tagged with the event that carries them).

>>> cat = Catalog(n_rows=1024, max_item_features=4)
>>> batch, rows = cat.encode([{"user": "a", "item": "x", "item_attributes": {"g": 1}},
...                           {"user": "b", "item": "x", "item_attributes": {"g": 2}}])
>>> batch.user.tolist(), batch.item.tolist(), rows.new.tolist(), rows.event.tolist()
([0, 1], [0, 0], [True, False], [0, 1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from streamrec.online.encoding import clean_id, label_of, mapping_rows
from streamrec.online.engine_kernel import Batch
from streamrec.online.hashing import FeatureHasher, hash64


class ItemRows(NamedTuple):
    """Static feature rows to write: entry ``t`` is item ``item[t]`` (``new``: created, with
    ``key``) carried by event ``event[t]``, rows ``rows[ptr[t]:ptr[t+1]]``."""

    event: np.ndarray
    item: np.ndarray
    new: np.ndarray
    key: np.ndarray
    ptr: np.ndarray
    rows: np.ndarray


def _no_item_rows() -> ItemRows:
    """An empty ``ItemRows`` (the usual batch: no new item, no changed attributes)."""
    i64 = np.zeros(0, np.int64)
    return ItemRows(i64, i64.copy(), np.zeros(0, np.bool_), i64.copy(), np.zeros(1, np.int64), i64.copy())


class Catalog:
    """Dense indices of users and items, their feature rows, and batch encoding."""

    def __init__(
        self,
        n_rows: int,
        max_item_features: int,
        users: Sequence[str] = (),
        items: Sequence[str] = (),
        feats: np.ndarray | None = None,
        nf: np.ndarray | None = None,
    ) -> None:
        """``users``/``items``: restored vocabularies; ``feats``/``nf``: the restored items'
        current feature rows (``item_feats``, ``item_nf``)."""
        self.hasher = FeatureHasher(n_rows)
        self.max_item_features = max_item_features
        self.user_ids: list[str] = list(users)
        self.item_ids: list[str] = list(items)
        self.users = {s: i for i, s in enumerate(self.user_ids)}
        self.items = {s: i for i, s in enumerate(self.item_ids)}
        self._attr_seen: dict[int, Any] = {}
        self._rows_of: dict[int, list[int]] = {}
        self._ctx_cache: dict[str, tuple[Any, list[int]]] = {}
        self._pending: list[tuple[int, int, bool, list[int]]] = []
        self._restored = (feats, nf)

    def user_index(self, user: str, create: bool) -> int:
        """Dense index of ``user`` (created if ``create``), -1 if unknown."""
        u = self.users.get(user)
        if u is None and create:
            u = len(self.user_ids)
            self.users[user] = u
            self.user_ids.append(user)
        return -1 if u is None else u

    def item_rows(self, item: str, attributes: Any) -> list[int]:
        """Static feature rows of ``item`` with ``attributes``."""
        rows = [self.hasher.row("i=" + item)]
        return rows + mapping_rows(self.hasher, "a:", attributes, self.max_item_features - 1)

    def item_index(self, item: str, attributes: Any, event: int = -1) -> int:
        """Dense index of ``item`` (created if new); a new item or changed attributes queue
        an ``ItemRows`` entry tagged with ``event``."""
        j = self.items.get(item)
        if j is None:
            j = len(self.item_ids)
            self.items[item] = j
            self.item_ids.append(item)
            self._attr_seen[j] = attributes
            self._queue(event, j, True, self.item_rows(item, attributes))
        elif attributes and self._attr_seen.get(j) is not attributes and self._attr_seen.get(j) != attributes:
            self._attr_seen[j] = attributes
            rows = self.item_rows(item, attributes)
            if rows != self._current_rows(j, item):
                self._queue(event, j, False, rows)
        return j

    def set_item_rows(self, item: str, rows: list[int]) -> int:
        """Dense index of ``item`` (created if new) whose static rows become ``rows`` (as
        merged from another shard); queues an ``ItemRows`` entry when they change."""
        j = self.items.get(item)
        if j is None:
            j = len(self.item_ids)
            self.items[item] = j
            self.item_ids.append(item)
            self._queue(-1, j, True, rows)
        elif rows != self._current_rows(j, item):
            self._queue(-1, j, False, rows)
        return j

    def _current_rows(self, j: int, item: str) -> list[int]:
        rows = self._rows_of.get(j)
        if rows is not None:
            return rows
        feats, nf = self._restored
        if feats is not None and nf is not None and j < nf.shape[0]:
            return feats[j, : nf[j]].tolist()
        return self.item_rows(item, None)

    def _queue(self, event: int, j: int, new: bool, rows: list[int]) -> None:
        self._rows_of[j] = rows
        self._pending.append((event, j, new, rows))

    def take_item_rows(self) -> ItemRows:
        """The queued item rows (in event order), clearing the queue."""
        pend, self._pending = self._pending, []
        if not pend:
            return _no_item_rows()
        ptr = np.zeros(len(pend) + 1, np.int64)
        ptr[1:] = np.cumsum([len(p[3]) for p in pend], dtype=np.int64)
        ids = self.item_ids
        return ItemRows(
            np.asarray([p[0] for p in pend], np.int64),
            np.asarray([p[1] for p in pend], np.int64),
            np.asarray([p[2] for p in pend], np.bool_),
            np.asarray([hash64("i=" + ids[p[1]]) if p[2] else 0 for p in pend], np.int64),
            ptr,
            np.asarray([r for p in pend for r in p[3]], np.int64),
        )

    def context_rows(self, user: str, context: Any) -> list[int]:
        """User-side rows of a request: the user id and its context entries."""
        hit = self._ctx_cache.get(user)
        if hit is not None and (hit[0] is context or hit[0] == context):
            return hit[1]
        rows = [self.hasher.row("u=" + user)] + mapping_rows(self.hasher, "c:", context, 64)
        if len(self._ctx_cache) >= 1 << 20:
            self._ctx_cache.clear()
        try:
            self._ctx_cache[user] = (
                dict(context) if isinstance(context, Mapping) else None,
                rows,
            )
        except (TypeError, ValueError):
            pass
        return rows

    def encode(self, events: Sequence, evaluate: np.ndarray | None = None) -> tuple[Batch, ItemRows]:
        """Per-event arrays for ``run_batch`` and the item rows the events bring."""
        n = len(events)
        ev_eval = np.ones(n, np.bool_) if evaluate is None else np.array(evaluate, np.bool_).ravel()
        if ev_eval.shape[0] != n:
            raise ValueError(f"evaluate has {ev_eval.shape[0]} flags for {n} events")
        users: list[int] = []
        items: list[int] = []
        labels: list[float] = []
        n_items: list[int] = []
        ptr: list[int] = [0]
        rows: list[int] = []
        is_mapping: dict[type, bool] = {dict: True}  # isinstance(ev, Mapping) per type, once
        user_index, item_index, context_rows = self.user_index, self.item_index, self.context_rows
        for i, ev in enumerate(events):
            u, j, label = -1, -1, 0.0
            try:
                tp = type(ev)
                mapping = is_mapping.get(tp)
                if mapping is None:
                    mapping = is_mapping[tp] = isinstance(ev, Mapping)
                if mapping:
                    get = ev.get
                    user, item, etype = get("user"), get("item"), get("type", "click")
                    attrs, ctx = get("item_attributes"), get("context")
                else:
                    user, item = getattr(ev, "user", None), getattr(ev, "item", None)
                    etype = getattr(ev, "type", "click")
                    attrs, ctx = (
                        getattr(ev, "item_attributes", None),
                        getattr(ev, "context", None),
                    )
                user, item, lab = clean_id(user), clean_id(item), label_of(etype)
                if user is not None and item is not None and lab is not None:
                    ctx_rows = context_rows(user, ctx)
                    j = item_index(item, attrs, i)
                    u = user_index(user, True)
                    label = lab
                    rows.extend(ctx_rows)
            except (TypeError, ValueError, AttributeError):
                u = -1
            users.append(u)
            items.append(j)
            labels.append(label)
            n_items.append(len(self.item_ids))
            ptr.append(len(rows))
        i64 = np.int64
        batch = Batch(
            np.asarray(users, i64),
            np.asarray(items, i64),
            np.asarray(labels, np.float64),
            np.asarray(n_items, i64),
            np.asarray(ptr, i64),
            np.asarray(rows, i64),
            ev_eval,
        )
        return batch, self.take_item_rows()
