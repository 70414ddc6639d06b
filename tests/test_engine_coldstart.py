"""Cold start: a new item's attributes carry what was learned about them."""

from __future__ import annotations

import numpy as np

from streamrec.online.recommender import Recommender, RecommenderConfig


def test_new_item_ranks_by_its_attribute():
    rng = np.random.default_rng(1)
    cfg = RecommenderConfig(n_buckets=1 << 13, k=8, n_negatives=4, seed=3)
    rec = Recommender(cfg)
    evs = []
    for _ in range(3000):
        u = int(rng.integers(40))
        genre = "rock" if u < 20 else "jazz"
        i = int(rng.integers(30))
        evs.append(
            {
                "user": f"u{u}",
                "item": f"{genre}{i}",
                "item_attributes": {"genre": genre},
            }
        )
    rec.process_batch(evs, 0)
    rec.add_item_metadata("rock-new", {"genre": "rock"})
    rec.add_item_metadata("jazz-new", {"genre": "jazz"})
    rec.add_item_metadata("plain-new", {})  # no attributes: a random newcomer
    for lovers, liked, other in (
        (range(20), "rock-new", "jazz-new"),
        (range(20, 40), "jazz-new", "rock-new"),
    ):
        r_liked, r_other, r_plain = [], [], []
        for u in lovers:
            items = [i for i, _ in rec.rank(f"u{u}", k=200, exclude_seen=False)]
            r_liked.append(items.index(liked))
            r_other.append(items.index(other))
            r_plain.append(items.index("plain-new"))
        assert np.mean(r_liked) < np.mean(r_other)
        assert np.mean(r_liked) < np.mean(r_plain)
        u0 = f"u{lovers[0]}"
        assert rec.predict_one(u0, liked) > rec.predict_one(u0, other)
