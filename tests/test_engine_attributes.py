"""Item attributes that change mid-stream: no rank looks ahead at a later event's attributes.

An event carrying new attributes for a known item is ranked with the item's old
attributes and learned with the new ones; the engine's ranks must not depend on how the
stream is chunked, and every rank before the change must equal the ranks of the same
stream without the change.
"""

from __future__ import annotations

import numpy as np

from streamrec.online.recommender import Recommender, RecommenderConfig

CHANGE_AT = 600
CHANGED = range(20)  # items whose attributes change at CHANGE_AT


def stream(with_change: bool, n: int = 1200, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    events = []
    for t in range(n):
        u = int(rng.integers(40))
        i = int((u * 3 + rng.integers(0, 12)) % 60)
        genre = f"g{i % 5}"
        if with_change and t >= CHANGE_AT and i in CHANGED:
            genre = "relabelled"
        events.append(
            {
                "user": f"u{u}",
                "item": f"i{i}",
                "item_attributes": {"genre": genre},
                "context": {"hour": str(t % 3)},
            }
        )
    if n > CHANGE_AT:  # the change point carries a changed item
        events[CHANGE_AT]["item"] = "i0"
        events[CHANGE_AT]["item_attributes"] = {"genre": "relabelled" if with_change else "g0"}
    return events


def ranks(events: list[dict], chunk: int) -> np.ndarray:
    rec = Recommender(RecommenderConfig(n_buckets=1 << 12, k=8, seed=11))
    out = []
    for lo in range(0, len(events), chunk):
        part = events[lo : lo + chunk]
        out.append(rec.evaluate_and_learn(part, np.ones(len(part), np.bool_)))
    return np.concatenate(out)


def test_attribute_change_is_seen_only_from_its_event_on():
    changed = stream(True)
    whole, single = ranks(changed, 5000), ranks(changed, 1)
    np.testing.assert_array_equal(whole, single)  # chunking does not matter
    static = ranks(stream(False), 5000)
    # the change event itself is ranked before its attributes apply
    np.testing.assert_array_equal(whole[: CHANGE_AT + 1], static[: CHANGE_AT + 1])
    assert (whole[CHANGE_AT + 1 :] != static[CHANGE_AT + 1 :]).any()  # and it does apply after
    assert (whole > 0).sum() > 300  # most events are ranked, not misses


def test_metadata_update_between_batches_applies_at_once():
    events = stream(False, n=400)
    cfg = RecommenderConfig(n_buckets=1 << 12, k=8)
    a, b = Recommender(cfg), Recommender(cfg)
    a.process_batch(events, 0)
    b.process_batch(events, 0)
    b.add_item_metadata("i0", {"genre": "relabelled", "brand": "x"})
    assert a.predict_one("u0", "i0") != b.predict_one("u0", "i0")
    assert a.predict_one("u0", "i1") == b.predict_one("u0", "i1")
