"""Metric math of replay.metrics."""

import math

import numpy as np
import pytest

from streamrec.replay.metrics import gains, hit_rate, interval95, ndcg, rolling_hit_rate, summarize


def test_ndcg_of_rank_one_is_one_and_decreases_with_rank():
    g = gains(np.array([1, 2, 3, 10, 11, 0]), k=10)
    assert g[0] == 1.0
    assert g[1] == pytest.approx(1 / math.log2(3))
    assert g[2] == pytest.approx(0.5)
    assert g[3] == pytest.approx(1 / math.log2(11))
    assert g[4] == 0.0 and g[5] == 0.0  # outside the top 10 / miss
    assert np.all(np.diff(g[:4]) < 0)


def test_hit_rate_counts_ranks_1_to_k_only():
    ranks = np.array([0, 1, 10, 11, 5, -1])
    assert hit_rate(ranks, k=10) == pytest.approx(3 / 6)
    assert hit_rate(ranks, k=1) == pytest.approx(1 / 6)
    assert hit_rate(np.array([], dtype=np.int32)) == 0.0
    assert ndcg(np.array([], dtype=np.int32)) == 0.0


def test_interval_matches_normal_approximation():
    assert interval95(0.0731, 10_000) == pytest.approx(1.96 * math.sqrt(0.0731 * 0.9269 / 10_000))
    assert interval95(0.0731, 10_000) == pytest.approx(0.0051, abs=5e-5)  # PROTOCOL.md figure
    assert interval95(0.5, 0) == 0.0
    assert interval95(1.0, 10) == 0.0


def test_summarize_combines_the_three():
    ranks = np.array([1, 4, 0, 20])
    s = summarize(ranks, k=10)
    assert s.n == 4
    assert s.hr == pytest.approx(0.5)
    assert s.ndcg == pytest.approx((1 + 1 / math.log2(5)) / 4)
    assert s.hr_ci == pytest.approx(interval95(0.5, 4))


def test_rolling_hit_rate_equals_naive_window_mean():
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 30, size=200)
    got = rolling_hit_rate(ranks, window=17, k=10)
    h = (ranks >= 1) & (ranks <= 10)
    want = [h[max(0, t - 16) : t + 1].mean() for t in range(200)]
    np.testing.assert_allclose(got, want)
