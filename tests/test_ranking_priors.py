"""Ranking priors (``knn_prior``, ``pop_prior``): they move ranks, never what is learned."""

from __future__ import annotations

import numpy as np

from streamrec.online.engine_state import FLOAT_COUNTERS
from streamrec.online.recommender import Recommender, RecommenderConfig

BASE = {"n_buckets": 4096, "k": 4, "knn_slots": 16}


def _log(n_events: int, seed: int = 0, n_items: int = 60):
    rng = np.random.default_rng(seed)
    return [{"user": f"u{rng.integers(30)}", "item": f"i{rng.integers(n_items)}"} for _ in range(n_events)]


def test_pop_prior_changes_ranks_but_not_the_learned_state():
    log = _log(1500, 4)
    runs = {}
    for prior in (0.0, 5.0):
        rec = Recommender(RecommenderConfig(**BASE, pop_prior=prior))
        ranks = rec.process_batch(log, n_candidates=0, rank_before=True).target_rank
        runs[prior] = (ranks, rec.export_state().arrays)
    assert (runs[0.0][0] != runs[5.0][0]).any()
    hits = 1 + FLOAT_COUNTERS.index("hit_sum")  # the running HR@10 counter differs, as the ranks do
    for name, arr in runs[0.0][1].items():
        if name.startswith("drift"):  # the drift monitor watches the hits
            continue
        other = runs[5.0][1][name]
        if name == "glob":
            arr, other = np.delete(arr, hits), np.delete(other, hits)
        np.testing.assert_array_equal(arr, other, err_msg=name)


def test_a_dominant_pop_prior_ranks_by_recent_popularity():
    rec = Recommender(RecommenderConfig(**BASE, pop_prior=1e4, half_life_events=50.0))
    rec.process_batch(_log(600, 5), n_candidates=0)
    hot = [{"user": f"w{t}", "item": "i7" if t % 3 else "i9"} for t in range(60)]
    rec.process_batch(hot, n_candidates=0)  # i7 then i9 are the recent favourites
    assert [item for item, _ in rec.rank("new-user", k=2)] == ["i7", "i9"]
