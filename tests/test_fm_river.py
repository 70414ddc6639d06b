"""Our FM matches river.facto.FMClassifier on identical data, hyperparameters and init."""

from __future__ import annotations

import numpy as np
import pytest

river = pytest.importorskip("river")
from river import facto, optim  # noqa: E402 -- after importorskip, by design

from streamrec.online.fm import FMClassifier  # noqa: E402


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_predictions_match_river_sgd(l2):
    rng = np.random.default_rng(0)
    users, items = [f"u{i}" for i in range(6)], [f"i{i}" for i in range(8)]
    data = []
    for _ in range(300):
        u, i = users[rng.integers(6)], items[rng.integers(8)]
        x = {"user": u, "item": i, "score": float(rng.uniform(0, 1))}
        data.append((x, bool((int(u[1:]) + int(i[1:])) % 3 == 0)))
    ours = FMClassifier(
        n_factors=4,
        n_buckets=1 << 14,
        lr=0.05,
        l2_weight=l2,
        l2_latent=l2,
        intercept_lr=0.01,
        seed=3,
    )
    theirs = facto.FMClassifier(
        n_factors=4,
        weight_optimizer=optim.SGD(0.05),
        latent_optimizer=optim.SGD(0.05),
        l2_weight=l2,
        l2_latent=l2,
        intercept_lr=0.01,
        seed=3,
    )
    names = [f"user_{u}" for u in users] + [f"item_{i}" for i in items] + ["score"]
    rows = [ours.row_of(n) for n in names]
    assert len(set(rows)) == len(rows)  # no hash collision in this tiny test
    ours.v[rows] = ours.v[rows].astype(np.float32)  # start from the exact stored values
    for n, r in zip(names, rows):
        theirs.latents[n] = ours.v[r].astype(np.float64)
    diffs = []
    for x, y in data:
        p_ours = ours.predict_proba_one(x)[True]
        p_theirs = theirs.predict_proba_one(x)[True]
        diffs.append(abs(p_ours - p_theirs))
        ours.learn_one(x, y)
        theirs.learn_one(x, y)
    assert max(diffs) < 1e-4
    # and the models did learn something (predictions moved)
    assert abs(theirs.predict_proba_one(data[0][0])[True] - 0.5) > 0.01
