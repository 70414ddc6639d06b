"""The engine on logs that look nothing like MovieLens, through the replay harness.

Anonymous session users (every user id seen for one short session only), a catalog
that keeps growing (new items all the time), most items without metadata and no
context at all. Sessions follow item chains (i -> i+1 -> i+2 ...) with a popular
head, so a sequence-aware model must beat popularity clearly.
"""

from __future__ import annotations

import random

from streamrec.contract.events import ClickEvent
from streamrec.online.recommender import Recommender
from streamrec.replay.baselines import Popularity, Transitions
from streamrec.replay.prequential import run_prequential


def session_log(n_sessions: int = 1500, seed: int = 3) -> list[ClickEvent]:
    rng = random.Random(seed)
    events, ts, n_items = [], 1.7e9, 300
    for s in range(n_sessions):
        n_items += 1  # a new item every session
        start = rng.randrange(n_items) if rng.random() < 0.7 else rng.randrange(30)
        for step in range(rng.randint(2, 6)):
            item = (start + step) % n_items
            ts += 1.0
            attrs = {"brand": [f"b{item % 7}"]} if item % 4 == 0 else {}  # most items: no metadata
            events.append(
                ClickEvent(
                    event_id=f"s{s}-{step}",
                    ts=ts,
                    user=f"anon-{s}",
                    item=f"p{item}",
                    item_attributes=attrs,
                )
            )
    return events


def test_engine_learns_sessions_of_anonymous_users_with_a_growing_catalog():
    events = session_log()
    result = run_prequential(events, [Recommender(), Popularity(), Transitions()], stride=1, chunk=1000)
    engine, pop, trans = (result.models[n] for n in ("streamrec-fm", "popularity", "transitions"))
    assert engine.all.n == pop.all.n == len(events)
    # sequence signal: far above popularity, and at least as good as last-item transitions
    assert engine.all.hr > 2 * pop.all.hr
    assert engine.all.hr >= 0.9 * trans.all.hr
    assert engine.warm.hr > engine.all.hr  # the first click of a session has no history to use
