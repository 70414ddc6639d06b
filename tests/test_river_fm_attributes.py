"""River FM baseline: an item-attribute change carried by event t is applied after ranking t."""

from dataclasses import replace

import numpy as np

from streamrec.contract.events import ClickEvent
from streamrec.replay.baselines import RiverFM

GENRES = ["drama", "comedy", "action"]


def event(t, u, i):
    attrs = {"genre": GENRES[i % 3], "length": 0.1 * (i % 5)}
    return ClickEvent(f"e{t}", 1.7e9 + t, f"u{u}", f"i{i}", context={"g": "MF"[u % 2]}, item_attributes=attrs)


def stream(n=200, seed=3):
    pairs = np.random.default_rng(seed).integers(0, [20, 30], size=(n, 2))
    return [event(t, int(u), int(i)) for t, (u, i) in enumerate(pairs)]


def ranks_of(events):
    return RiverFM(seed=7, n_factors=4).evaluate_and_learn(events, np.ones(len(events), bool))


def test_ranks_up_to_an_attribute_change_do_not_depend_on_it():
    events = stream()
    base = ranks_of(events)
    points = [t for t in range(60, len(events)) if base[t] > 0][:8]
    assert len(points) >= 5
    later_differs = 0
    for tc in points:
        e = events[tc]
        changed = replace(e, item_attributes={"genre": "war", "length": 0.9, "new": "yes"})
        ranks = ranks_of([*events[:tc], changed, *events[tc + 1 :]])
        np.testing.assert_array_equal(ranks[: tc + 1], base[: tc + 1])  # incl. the changing event's own rank
        later_differs += int(np.any(ranks[tc + 1 :] != base[tc + 1 :]))
    assert later_differs > 0  # the change does reach the ranks after it
