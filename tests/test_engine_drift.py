"""Drift monitoring: ADWIN on the hit indicator, persistence and the engine's reaction."""

from __future__ import annotations

import numpy as np

from streamrec.online.drift import DriftMonitor
from streamrec.online.recommender import Recommender, RecommenderConfig


def test_monitor_detects_a_shift_and_not_a_stationary_stream():
    rng = np.random.default_rng(0)
    calm = DriftMonitor(delta=0.002)
    for x in (rng.random(4000) < 0.3).astype(float):
        calm.update(x)
    assert calm.n_detections == 0
    shift = DriftMonitor(delta=0.002)
    xs = np.concatenate([rng.random(2000) < 0.3, rng.random(2000) < 0.8]).astype(float)
    hits = [t for t, x in enumerate(xs) if shift.update(x)]
    assert hits and 2000 <= hits[0] < 2600


def test_monitor_restore_reproduces_the_detector():
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.random(1500) < 0.2, rng.random(3000) < 0.6]).astype(float)
    a = DriftMonitor()
    for x in xs[:2100]:
        a.update(x)
    b = DriftMonitor()
    b.restore(a.values(), a.n_detections)
    ra = [a.update(x) for x in xs[2100:]]
    rb = [b.update(x) for x in xs[2100:]]
    assert ra == rb and a.n_detections == b.n_detections


def test_engine_detects_preference_flip_and_boosts_learning_rate():
    rng = np.random.default_rng(2)
    evs = []
    for t in range(6000):
        u = int(rng.integers(50))
        off = 0 if t < 3000 else 100  # every user switches to a disjoint set of items
        evs.append({"user": f"u{u}", "item": f"i{off + (u + int(rng.integers(0, 4))) % 50}"})
    cfg = RecommenderConfig(n_buckets=1 << 12, k=4, drift_lr_boost=3.0, drift_boost_events=10**6)
    rec = Recommender(cfg)
    for s in range(0, 6000, 500):
        rec.evaluate_and_learn(evs[s : s + 500], np.ones(500, bool))
    st = rec.stats()
    assert st["drift_count"] >= 1
    assert st["lr_multiplier"] == 3.0
    clone = Recommender.from_state(rec.export_state())
    assert clone.stats()["drift_count"] == st["drift_count"]


def test_update_many_detects_as_one_update_per_value():
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.random(3000) < 0.2, rng.random(3000) < 0.6, rng.random(9000) < 0.3]).astype(float)
    xs[5], xs[7] = np.nan, 3.0  # cleaned like ``update`` does
    one, many = DriftMonitor(max_values=4096), DriftMonitor(max_values=4096)
    for x in xs:
        one.update(x)
    for lo in range(0, len(xs), 777):
        many.update_many(xs[lo : lo + 777])
    assert one.n_detections >= 1
    assert (many.n_detections, many.drift_detected) == (one.n_detections, one.drift_detected)
    np.testing.assert_array_equal(many.values(), one.values())
