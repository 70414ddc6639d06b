"""Synthetic click traffic for the demo and the tests (no external data needed).

Users have a favourite category and a segment (in ``context``); items belong to
one category (in ``item_attributes``) and have Zipf-like popularity. A user
clicks mostly in their category and often continues from their previous item
to its "sequel" (item + 1), so both side features and sequences carry signal.

>>> gen = ClickGenerator(n_users=50, n_items=200, seed=1)
>>> ev = gen.next_event()
>>> sorted(ev)[:4]
['context', 'event_id', 'item', 'item_attributes']
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

CATEGORIES = ("drama", "comedy", "action", "documentary", "kids", "horror", "sci_fi", "romance")
SEGMENTS = ("student", "parent", "retired", "professional")


class ClickGenerator:
    """Seeded generator of contract-valid click events (dicts)."""

    def __init__(
        self,
        n_users: int = 500,
        n_items: int = 1000,
        seed: int = 0,
        start_ts: float = 1_700_000_000.0,
        prefix: str = "e",
    ):
        self.rng = random.Random(seed)
        self.n_users, self.n_items = n_users, n_items
        self.user_cat = [self.rng.randrange(len(CATEGORIES)) for _ in range(n_users)]
        self.user_seg = [SEGMENTS[self.rng.randrange(len(SEGMENTS))] for _ in range(n_users)]
        self.item_cat = [self.rng.randrange(len(CATEGORIES)) for _ in range(n_items)]
        self.by_cat: dict[int, list[int]] = {c: [] for c in range(len(CATEGORIES))}
        for i, c in enumerate(self.item_cat):
            self.by_cat[c].append(i)
        self.last_item: dict[int, int] = {}
        self.ts = start_ts
        self.count = 0
        self.prefix = prefix

    def _zipf_pick(self, items: list[int]) -> int:
        # rank r chosen with probability ~ 1/(r+1): popular head, long tail
        r = int(len(items) ** self.rng.random()) - 1
        return items[max(0, min(r, len(items) - 1))]

    def next_event(self, user: int | None = None, item: int | None = None, rec_id: str | None = None) -> dict:
        """One click; pass ``item``/``rec_id`` to answer a recommendation."""
        u = self.rng.randrange(self.n_users) if user is None else user
        if item is None:
            prev = self.last_item.get(u)
            roll = self.rng.random()
            if prev is not None and roll < 0.35:
                item = (prev + 1) % self.n_items
            elif roll < 0.85:
                item = self._zipf_pick(self.by_cat[self.user_cat[u]] or [0])
            else:
                item = self._zipf_pick(list(range(self.n_items)))
        self.last_item[u] = item
        self.ts += self.rng.expovariate(20.0)
        self.count += 1
        ev = {
            "event_id": f"{self.prefix}{self.count}",
            "ts": round(self.ts, 3),
            "user": f"u{u}",
            "item": f"i{item}",
            "type": "click",
            "context": {"segment": self.user_seg[u]},
            "item_attributes": {"category": [CATEGORIES[self.item_cat[item]]]},
        }
        if rec_id is not None:
            ev["rec_id"] = rec_id
        return ev

    def events(self, n: int) -> Iterator[dict]:
        for _ in range(n):
            yield self.next_event()


def invalid_payloads() -> list[bytes]:
    """A fixed set of payloads that break the contract in different ways."""
    return [
        b"{not json",
        b"[1, 2, 3]",
        json.dumps({"event_id": "x1", "ts": 1.7e9, "item": "i1"}).encode(),  # no user
        json.dumps({"event_id": "x2", "ts": "yesterday", "user": "u1", "item": "i1"}).encode(),
        b'{"event_id": "x3", "ts": NaN, "user": "u1", "item": "i1"}',
        json.dumps(
            {"event_id": "x4", "ts": 1.7e9, "user": "u1", "item": "i1", "context": {"blob": "x" * 100_000}}
        ).encode(),
        json.dumps({"event_id": "x5", "ts": 9.9e12, "user": "u1", "item": "i1"}).encode(),
        "\udcff".encode("utf-8", "surrogatepass"),
    ]
