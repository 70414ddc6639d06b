"""Simulator: optimal slate, drift, closed loop regret ordering, logged decisions vs truth, reward model."""

import numpy as np

from streamrec.online.policies import EpsilonGreedy, Greedy, Softmax, UniformRandom
from streamrec.replay.ope.suite import run_estimators
from streamrec.replay.reward_model import RewardModel
from streamrec.replay.simulator import (
    ClickSimulator,
    FixedScorer,
    SimulatorConfig,
    log_decisions,
    policy_marginals,
    run_closed_loop,
    true_value,
)

CFG = SimulatorConfig(n_users=50, n_items=20, dim=4, k=3, seed=3)


def test_optimal_slate_beats_random_slates():
    sim = ClickSimulator(CFG)
    rng = np.random.default_rng(0)
    for u in range(10):
        best = sim.optimal_value(u)
        for _ in range(20):
            assert sim.slate_value(u, rng.choice(20, 3, replace=False)) <= best + 1e-12


def test_drift_rotates_preferences_but_keeps_norms():
    sim = ClickSimulator(SimulatorConfig(n_users=50, n_items=20, dim=4, k=3, seed=3, drift_at=5))
    before = sim.user_vec.copy()
    for _ in range(6):
        sim.next_user()
    assert not np.allclose(before, sim.user_vec)
    np.testing.assert_allclose(np.linalg.norm(before, axis=1), np.linalg.norm(sim.user_vec, axis=1))


def test_closed_loop_learning_beats_uniform():
    greedy = run_closed_loop(ClickSimulator(CFG), EpsilonGreedy(0.05), n_events=3000)
    uniform = run_closed_loop(ClickSimulator(CFG), UniformRandom(), n_events=3000)
    assert greedy.regret < 0.7 * uniform.regret
    assert np.all(np.diff(greedy.regret_curve) >= -1e-9)


def test_ope_on_logged_decisions_matches_truth():
    sim = ClickSimulator(CFG)
    scorer = FixedScorer(sim, noise=0.5)
    log = log_decisions(sim, EpsilonGreedy(0.4), scorer, 8000, seed=1)
    marg = policy_marginals(sim, Greedy(), scorer)
    truth = true_value(sim, marg)
    pe = marg[log.user, log.action, log.position]
    res = run_estimators(log.reward, log.pscore, pe, n_bootstrap=100)
    assert abs(res["ips"]["mean"] / truth - 1) < 0.15 and abs(res["snips"]["mean"] / truth - 1) < 0.15
    assert res["snips"]["lower"] <= truth <= res["snips"]["upper"]
    on_policy = true_value(sim, policy_marginals(sim, EpsilonGreedy(0.4), scorer))
    assert abs(log.reward.mean() / on_policy - 1) < 0.1


def test_softmax_truth_from_marginals_matches_simulation():
    sim = ClickSimulator(CFG)
    scorer = FixedScorer(sim)
    pol = Softmax(1.0, n_draws=2000)
    truth = true_value(sim, policy_marginals(sim, pol, scorer))
    log = log_decisions(sim, pol, scorer, 6000, seed=2)
    assert abs(log.reward.mean() / truth - 1) < 0.1


def test_reward_model_learns_and_stays_finite():
    m = RewardModel(n_bits=12, lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        item = int(rng.integers(4))
        m.learn_one({"item": item, "position": 0, "u": "x"}, float(rng.random() < 0.1 + 0.2 * item))
    grid = m.predict_grid({"u": "x"}, [0, 1, 2, 3], [0])[:, 0]
    assert np.all(np.diff(grid) > 0)
    for bad in (np.nan, np.inf, 1e308):
        m.learn_one({"item": 1, "position": 0, "u": bad}, 1.0)
    m.learn_one({"item": 1, "position": 0}, np.nan)
    assert np.all(np.isfinite(m.w)) and 0 < m.predict_one({"item": 1, "position": 0, "u": "x"}) < 1
