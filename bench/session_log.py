"""A synthetic e-commerce session click log in the event contract (a second log of a kind
unlike ML-100K: short anonymous sessions instead of long user histories).

    python bench/session_log.py OUT.jsonl[.gz] [--sessions 25000] [--seed 7]
                                [--items 3000] [--categories 30]
    streamrec replay OUT.jsonl --models engine,item-knn,vsknn,sknn,transitions

Generative story (deterministic for a seed):

- Items belong to categories; each has a Zipf base appeal and a release day; its appeal at
  day ``t`` is ``base * exp(-(t - release) / lifetime)`` (zero before release): the
  popular items drift over the log. Each item has ``n_related`` complements (same category).
- A session belongs to a hidden shopper with a few favourite categories (Dirichlet) and
  is anonymous in the log (``user`` = the session id). It has ``Geometric(p_end)``
  clicks (1 to 20, mean about 4). The first click picks a favourite category, then an
  item by current appeal; each later click is a complement of the previous item
  (``p_related``), another item of the same category (``p_same``), or starts over in a
  favourite category; an item is not clicked twice in a session.
- Sessions start uniformly over ``days`` days, clicks 10-120 s apart; events carry the
  device as context and the item's category and price band as attributes.
"""

from __future__ import annotations

import argparse
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DAY = 86_400.0
T0 = 1_700_000_000.0


class Catalog:
    """Items, categories, appeal over time and complements, drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator, n_items: int, n_cats: int, days: int, n_related: int) -> None:
        self.cat = rng.integers(0, n_cats, n_items)
        self.price = rng.integers(0, 4, n_items)
        base = 1.0 / (1.0 + rng.permutation(n_items)) ** 0.8  # Zipf appeal
        release = rng.uniform(-0.5 * days, days, n_items)
        life = rng.uniform(0.1, 0.6, n_items) * days
        self.members = [np.flatnonzero(self.cat == c) for c in range(n_cats)]
        # appeal per (day, category member): cumulative weights for sampling by day
        self.cum = []
        for m in self.members:
            age = np.arange(days)[:, None] + 0.5 - release[m][None, :]
            w = np.where(age >= 0, base[m][None, :] * np.exp(-np.maximum(age, 0) / life[m][None, :]), 0.0)
            self.cum.append(np.cumsum(w + 1e-9, axis=1))
        self.related = np.empty((n_items, n_related), np.int64)
        for m in self.members:
            for i in m:
                self.related[i] = rng.choice(m, n_related, p=base[m] / base[m].sum())

    def draw(self, rng: np.random.Generator, c: int, day: int) -> int:
        """An item of category ``c`` by its appeal on ``day``."""
        cum = self.cum[c][day]
        return int(self.members[c][np.searchsorted(cum, rng.random() * cum[-1], side="right")])


@dataclass(frozen=True)
class LogShape:
    """Sizes and probabilities of the generated log (see the module docstring)."""

    n_sessions: int = 25_000
    n_items: int = 3000
    n_cats: int = 30
    days: int = 60
    n_shoppers: int = 5000
    n_related: int = 4
    p_end: float = 0.25
    p_related: float = 0.5
    p_same: float = 0.3


def generate(shape: LogShape = LogShape(), seed: int = 7) -> list[dict]:
    """The log's events (contract dicts) in event-time order."""
    n_cats, days, n_related = shape.n_cats, shape.days, shape.n_related
    p_related, p_same = shape.p_related, shape.p_same
    rng = np.random.default_rng(seed)
    cat = Catalog(rng, shape.n_items, n_cats, days, n_related)
    prefs = rng.dirichlet(np.full(n_cats, 0.2), shape.n_shoppers)
    mobile = rng.random(shape.n_shoppers) < 0.6
    starts = np.sort(rng.uniform(0, days * DAY - 3600, shape.n_sessions))
    events = []
    for s, t in enumerate(starts):
        shopper = int(rng.integers(shape.n_shoppers))
        day = int(t // DAY)
        n_clicks = min(int(rng.geometric(shape.p_end)), 20)
        clicked: list[int] = []
        c = int(rng.choice(n_cats, p=prefs[shopper]))
        item = cat.draw(rng, c, day)
        for _ in range(n_clicks):
            for _try in range(5):
                if item not in clicked:
                    break
                item = cat.draw(rng, c, day)
            if item in clicked:
                break
            clicked.append(item)
            events.append(
                {
                    "event_id": f"s{s}-{len(clicked)}",
                    "ts": round(T0 + t, 3),
                    "user": f"s{s}",
                    "item": f"p{item}",
                    "type": "click",
                    "context": {"device": "mobile" if mobile[shopper] else "desktop"},
                    "item_attributes": {"category": f"c{cat.cat[item]}", "price": f"b{cat.price[item]}"},
                }
            )
            t += rng.uniform(10, 120)
            r = rng.random()
            if r < p_related:
                item = int(cat.related[item, rng.integers(n_related)])
            elif r < p_related + p_same:
                item = cat.draw(rng, c, day)
            else:
                c = int(rng.choice(n_cats, p=prefs[shopper]))
                item = cat.draw(rng, c, day)
    events.sort(key=lambda e: e["ts"])
    return events


def write_jsonl(events: list[dict], path: str | Path) -> Path:
    """Write ``events`` one JSON object a line (gzip when the name ends in .gz)."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "wt", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--sessions", type=int, default=25_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--categories", type=int, default=30)
    args = ap.parse_args(argv)
    shape = LogShape(n_sessions=args.sessions, n_items=args.items, n_cats=args.categories)
    events = generate(shape, args.seed)
    path = write_jsonl(events, args.out)
    n_sessions = len({e["user"] for e in events})
    print(f"{len(events)} clicks in {n_sessions} sessions ({len(events) / n_sessions:.2f} a session) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
