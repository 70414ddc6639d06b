"""Event encoding and the catalog for :class:`online.recommender.Recommender` (a mixin).

Users and items get dense indices in arrival order (``vocab``); an item's static rows are
``i=<item>`` then ``a:<key>=<value>`` per attribute (at most ``max_item_features``); a
request's user rows are ``u=<user>`` then ``c:<key>=<value>`` per context entry (cached
per user while the context is unchanged). A malformed event encodes to user -1 (skipped,
``learned=False``) and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamrec.online import layout as L
from streamrec.online.encoding import clean_id, label_of, mapping_rows
from streamrec.online.hashing import hash64
from streamrec.online.item_cache import refresh_item


class CatalogMixin:
    """Vocabularies, item attributes and batch encoding (uses the host's arrays)."""

    def _user_index(self, user: str, create: bool) -> int:
        u = self._users.get(user)
        if u is None and create:
            u = len(self._user_ids)
            self._ensure("user", u + 1)
            self._users[user] = u
            self._user_ids.append(user)
            self._a["cnt"][L.C_USERS] = u + 1
        return -1 if u is None else u

    def _item_rows(self, item: str, attributes: Any) -> list[int]:
        rows = [self._hasher.row("i=" + item)]
        return rows + mapping_rows(self._hasher, "a:", attributes, self.config.max_item_features - 1)

    def _item_index(self, item: str, attributes: Any, create: bool = True) -> int:
        j = self._items.get(item)
        if j is None:
            if not create:
                return -1
            j = len(self._item_ids)
            self._ensure("item", j + 1)
            self._items[item] = j
            self._item_ids.append(item)
            self._a["cnt"][L.C_ITEMS] = j + 1
            self._a["item_key"][j] = hash64("i=" + item)
            self._set_item_rows(j, self._item_rows(item, attributes), new=True)
            self._attr_seen[j] = attributes
        elif attributes and self._attr_seen.get(j) is not attributes \
                and self._attr_seen.get(j) != attributes:
            self._attr_seen[j] = attributes
            rows = self._item_rows(item, attributes)
            nf = self._a["item_nf"][j]
            if rows != self._a["item_feats"][j, :nf].tolist():
                self._set_item_rows(j, rows, new=False)
        return j

    def _set_item_rows(self, j: int, rows: list[int], new: bool) -> None:
        a = self._a
        a["item_feats"][j] = -1
        a["item_feats"][j, : len(rows)] = rows
        a["item_nf"][j] = len(rows)
        if not new:  # attribute update of a live item: refresh its cache row now
            refresh_item(j, a["fm_w"], a["fm_v"], a["item_feats"], a["item_nf"], a["item_vsum"],
                         a["item_wsum"], a["item_pair"], self._vsum_t)
        self._dirty["item"][j] = True

    def _context_rows(self, user: str, context: Any) -> list[int]:
        hit = self._ctx_cache.get(user)
        if hit is not None and (hit[0] is context or hit[0] == context):
            return hit[1]
        rows = [self._hasher.row("u=" + user)] + mapping_rows(self._hasher, "c:", context, 64)
        if len(self._ctx_cache) >= 1 << 20:
            self._ctx_cache.clear()
        try:
            self._ctx_cache[user] = (dict(context) if isinstance(context, Mapping) else None, rows)
        except (TypeError, ValueError):
            pass
        return rows

    def _encode(self, events: Sequence):
        """Per-event arrays for ``run_batch``: user, item, label, catalog size, context rows."""
        users: list[int] = []
        items: list[int] = []
        labels: list[float] = []
        n_items: list[int] = []
        ptr: list[int] = [0]
        rows: list[int] = []
        for ev in events:
            u, j, label = -1, -1, 0.0
            try:
                if type(ev) is dict or isinstance(ev, Mapping):
                    get = ev.get
                    user, item, etype = get("user"), get("item"), get("type", "click")
                    attrs, ctx = get("item_attributes"), get("context")
                else:
                    user, item = getattr(ev, "user", None), getattr(ev, "item", None)
                    etype = getattr(ev, "type", "click")
                    attrs, ctx = getattr(ev, "item_attributes", None), getattr(ev, "context", None)
                user, item, lab = clean_id(user), clean_id(item), label_of(etype)
                if user is not None and item is not None and lab is not None:
                    ctx_rows = self._context_rows(user, ctx)
                    j = self._item_index(item, attrs)
                    u = self._user_index(user, True)
                    label = lab
                    rows.extend(ctx_rows)
            except (TypeError, ValueError, AttributeError):
                u = -1
            users.append(u)
            items.append(j)
            labels.append(label)
            n_items.append(len(self._item_ids))
            ptr.append(len(rows))
        i64 = np.int64
        return (np.asarray(users, i64), np.asarray(items, i64), np.asarray(labels, np.float64),
                np.asarray(n_items, i64), np.asarray(ptr, i64), np.asarray(rows, i64))
