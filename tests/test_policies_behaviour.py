"""Reproducibility, bad input, padding, learning policies."""

import numpy as np
import pytest

from streamrec.online.policies import UCB, EpsilonGreedy, GaussianThompson, Greedy, Softmax, UniformRandom

ITEMS = np.array([f"i{j}" for j in range(30)], dtype=object)
SCORES = np.random.default_rng(3).normal(size=30)
ALL = [Greedy(), UniformRandom(), EpsilonGreedy(0.3), Softmax(0.5), GaussianThompson(0.5), UCB(0.3)]


@pytest.mark.parametrize("pol", ALL, ids=lambda p: p.name)
def test_same_seed_same_slate(pol):
    a = pol.select(ITEMS, SCORES, 5, seed=123456789)
    b = pol.select(ITEMS, SCORES, 5, seed=123456789)
    assert list(a.items) == list(b.items)
    np.testing.assert_array_equal(a.propensities, b.propensities)


@pytest.mark.parametrize(
    "pol", [UniformRandom(), EpsilonGreedy(0.5), Softmax(5.0), GaussianThompson(3.0)], ids=lambda p: p.name
)
def test_different_seeds_explore(pol):
    slates = {tuple(pol.select(ITEMS, SCORES, 3, seed=s).items) for s in range(50)}
    assert len(slates) > 5


@pytest.mark.parametrize("pol", ALL, ids=lambda p: p.name)
def test_bad_scores_and_padding_never_crash(pol):
    scores = np.array([np.nan, np.inf, -np.inf, 1.0, 0.5, -np.inf, -np.inf])
    s = pol.select(["a", "b", "c", "d", "e"], scores, 3, seed=1)  # padded scores beyond len(items)
    assert len(s) == 3 and set(s.items) <= set("abcde")
    assert np.all(np.isfinite(s.propensities)) and np.all(s.propensities > 0)
    P = pol.probabilities(["a", "b", "c", "d", "e"], scores, 3)
    assert np.all(np.isfinite(P))
    assert len(pol.select([], [], 3, seed=1)) == 0
    assert len(pol.select(["a"], [0.0], 5, seed=1)) == 1


def test_greedy_puts_nan_last_and_inf_first():
    s = Greedy().select(["a", "b", "c"], [np.nan, np.inf, 0.0], 3, seed=0)
    assert list(s.items) == ["b", "c", "a"]


def test_epsilon_greedy_exploration_rate():
    pol = EpsilonGreedy(0.2)
    n = 4000
    top = sum(pol.select(ITEMS, SCORES, 1, seed=s).items[0] == ITEMS[np.argmax(SCORES)] for s in range(n))
    assert abs(top / n - (0.8 + 0.2 / 30)) < 0.03


def test_thompson_uncertainty_shrinks_and_state_roundtrips():
    pol = GaussianThompson(1.0)
    for _ in range(99):
        pol.update("i0", 1.0)
    assert pol.sigma(["i0"])[0] == pytest.approx(0.1)
    other = GaussianThompson(1.0)
    other.load_dict(pol.to_dict())
    assert list(other.select(ITEMS, SCORES, 4, seed=9).items) == list(pol.select(ITEMS, SCORES, 4, seed=9).items)


def test_ucb_bonus_favours_rarely_shown_items():
    pol = UCB(c=1.0)
    for _ in range(100):
        pol.update("a", 0.0)
    assert pol.select(["a", "b"], [1.0, 0.9], 1, seed=0).items[0] == "b"
    assert pol.select(["a", "b"], [3.0, 0.9], 1, seed=0).items[0] == "a"
    assert pol.select(["a", "b"], [1.0, 0.9], 1, seed=0).propensities[0] == 1.0
