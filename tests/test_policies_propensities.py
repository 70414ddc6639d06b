"""Slot propensities: columns sum to 1, exact vs Monte-Carlo, select agrees with probabilities."""

import itertools

import numpy as np
import pytest

from streamrec.online.policies import UCB, EpsilonGreedy, GaussianThompson, Greedy, Softmax, UniformRandom, make_policy
from streamrec.online.policies.sampling import (
    epsilon_greedy_draw,
    epsilon_greedy_marginals,
    plackett_luce_draw,
    plackett_luce_marginals,
)
from streamrec.online.policies.softmax import softmax_probs

ITEMS = np.array([f"i{j}" for j in range(12)], dtype=object)
SCORES = np.random.default_rng(0).normal(size=12)
ALL = [
    Greedy(),
    UniformRandom(),
    EpsilonGreedy(0.2),
    Softmax(0.5, n_draws=400),
    GaussianThompson(0.5, n_draws=400),
    UCB(0.3),
]


@pytest.mark.parametrize("pol", ALL, ids=lambda p: p.name)
def test_slot_marginals_sum_to_one(pol):
    P = pol.probabilities(ITEMS, SCORES, 4)
    assert P.shape == (12, 4)
    np.testing.assert_allclose(P.sum(axis=0), 1.0, atol=1e-9)
    assert np.all(P >= 0) and np.all(P.sum(axis=1) <= 1 + 1e-9)


@pytest.mark.parametrize("pol", ALL, ids=lambda p: p.name)
def test_select_propensities_match_probabilities(pol):
    s = pol.select(ITEMS, SCORES, 4, seed=11)
    P = pol.probabilities(ITEMS, SCORES, 4)
    pos = {it: j for j, it in enumerate(ITEMS)}
    for slot, (it, p) in enumerate(zip(s.items, s.propensities)):
        assert 0 < p <= 1
        assert abs(p - P[pos[it], slot]) < 0.1  # MC policies use a different seed for the estimate
    assert len(set(s.items)) == 4


def _permutation_marginals(p, k):
    n = len(p)
    E = np.zeros((n, k))
    for perm in itertools.permutations(range(n), k):
        pr, rest = 1.0, 1.0
        for a in perm:
            pr *= p[a] / rest
            rest -= p[a]
        E[list(perm), list(range(k))] += pr
    return E


def test_epsilon_greedy_exact_matches_monte_carlo():
    n, k, eps = 7, 4, 0.35
    M = epsilon_greedy_marginals(n, k, eps)
    C = np.zeros((n, k))
    draws = 40000
    for s in range(draws):
        C[epsilon_greedy_draw(n, k, eps, s), np.arange(k)] += 1
    np.testing.assert_allclose(C / draws, M, atol=0.012)
    np.testing.assert_allclose(M[:, 0], [1 - eps + eps / n] + [eps / n] * (n - 1))


def test_epsilon_greedy_edge_epsilons():
    np.testing.assert_allclose(epsilon_greedy_marginals(5, 3, 0.0), np.eye(5)[:, :3])
    np.testing.assert_allclose(epsilon_greedy_marginals(5, 3, 1.0), np.full((5, 3), 0.2))


def test_plackett_luce_monte_carlo_agrees_with_exact():
    p = softmax_probs(np.array([1.5, 0.2, -0.3, 0.9, 0.0]), 1.0)
    E = _permutation_marginals(p, 3)
    M = plackett_luce_marginals(p, 3, 20000, 5)
    np.testing.assert_allclose(M[:, 0], E[:, 0], atol=1e-12)  # slot 1 exact
    np.testing.assert_allclose(M, E, atol=0.01)
    C = np.zeros((5, 3))
    for s in range(30000):
        C[plackett_luce_draw(p, 3, s), np.arange(3)] += 1
    np.testing.assert_allclose(C / 30000, E, atol=0.012)


def test_thompson_monte_carlo_agrees_with_numpy_sampling():
    pol = GaussianThompson(sigma0=1.0, n_draws=20000)
    mu = np.array([0.0, 0.3, -0.2, 0.1])
    P = pol.probabilities(np.array(list("abcd"), dtype=object), mu, 2)
    z = np.random.default_rng(1).normal(size=(100000, 4)) + mu
    top = np.argsort(-z, axis=1)[:, :2]
    ref = np.array([[np.mean(top[:, s] == i) for s in range(2)] for i in range(4)])
    np.testing.assert_allclose(P, ref, atol=0.015)


def test_greedy_is_deterministic_top_k_with_stable_ties():
    s = Greedy().select(["a", "b", "c", "d"], [1.0, 2.0, 2.0, 0.0], 3, seed=0)
    assert list(s.items) == ["b", "c", "a"]
    assert s.propensities.tolist() == [1.0, 1.0, 1.0]


def test_make_policy_specs():
    assert make_policy("egreedy:0.25").epsilon == 0.25
    assert isinstance(make_policy("softmax:2"), Softmax)
    with pytest.raises(ValueError):
        make_policy("nope")
    with pytest.raises(ValueError):
        make_policy("egreedy:2")
