"""Off-policy estimators: unbiasedness on synthetic logs with known value, IPS vs replay, intervals, inputs."""

import numpy as np
import pytest

from streamrec.replay.ope import (
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    ReplayMethod,
    SelfNormalizedInverseProbabilityWeighting,
    prepare,
)
from streamrec.replay.ope.base import refit_bootstrap_interval
from streamrec.replay.ope.suite import is_uniform_log, run_estimators


def _synthetic(n=60000, n_actions=5, seed=0, uniform=False):
    """Contextless bandit: known click rates; logging pi_b, target pi_e; true value = pi_e . rates."""
    rng = np.random.default_rng(seed)
    rates = np.array([0.05, 0.10, 0.20, 0.30, 0.15])[:n_actions]
    pb = np.full(n_actions, 1 / n_actions) if uniform else np.array([0.4, 0.3, 0.15, 0.1, 0.05])
    pe = np.array([0.05, 0.05, 0.2, 0.6, 0.1])
    a = rng.choice(n_actions, size=n, p=pb)
    r = (rng.random(n) < rates[a]).astype(float)
    ad = np.broadcast_to(pe[None, :, None], (n, n_actions, 1))
    return dict(reward=r, action=a, position=np.zeros(n, int), pscore=pb[a], action_dist=ad), float(pe @ rates), rates


@pytest.mark.parametrize("est", [InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting()])
def test_weighting_estimators_recover_known_value(est):
    data, truth, _ = _synthetic()
    assert est.estimate_policy_value(**data) == pytest.approx(truth, rel=0.05)
    ci = est.estimate_interval(**data, n_bootstrap=200, random_state=1)
    assert ci["lower"] <= truth <= ci["upper"]


def test_dm_and_dr_with_correct_and_wrong_models():
    data, truth, rates = _synthetic()
    n = len(data["reward"])
    good = np.broadcast_to(rates[None, :, None], (n, 5, 1))
    wrong = np.full((n, 5, 1), 0.5)
    assert DirectMethod().estimate_policy_value(**data, estimated_rewards_by_reg_model=good) == pytest.approx(truth)
    dm_wrong = DirectMethod().estimate_policy_value(**data, estimated_rewards_by_reg_model=wrong)
    assert abs(dm_wrong - truth) > 0.2
    dr_wrong = DoublyRobust().estimate_policy_value(**data, estimated_rewards_by_reg_model=wrong)
    assert dr_wrong == pytest.approx(truth, rel=0.06)  # robust to a bad model
    dr_good = DoublyRobust().estimate_interval(**data, estimated_rewards_by_reg_model=good, method="normal")
    ips = InverseProbabilityWeighting().estimate_interval(**data, method="normal")
    assert dr_good["upper"] - dr_good["lower"] < ips["upper"] - ips["lower"]  # lower variance


def test_unbiasedness_over_repetitions():
    vals = [InverseProbabilityWeighting().estimate_policy_value(**_synthetic(n=3000, seed=s)[0]) for s in range(40)]
    truth = _synthetic(n=10)[1]
    assert abs(np.mean(vals) - truth) < 3 * np.std(vals) / np.sqrt(len(vals))


def test_replay_equals_snips_and_close_to_ips_on_uniform_logs():
    data, truth, _ = _synthetic(uniform=True)
    rm = ReplayMethod().estimate_policy_value(**{k: v for k, v in data.items() if k != "pscore"})
    ips = InverseProbabilityWeighting().estimate_policy_value(**data)
    snips = SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**data)
    assert rm == pytest.approx(snips) and rm == pytest.approx(ips, rel=0.05) and rm == pytest.approx(truth, rel=0.05)
    assert is_uniform_log(data["pscore"])
    assert "replay" in run_estimators(data["reward"], data["pscore"], np.full(len(data["reward"]), 0.2), n_bootstrap=20)
    assert "replay" not in run_estimators(
        *[_synthetic()[0][k] for k in ("reward", "pscore")], np.full(60000, 0.2), n_bootstrap=20
    )


def test_normal_and_bootstrap_intervals_agree():
    data, _, _ = _synthetic()
    b = InverseProbabilityWeighting().estimate_interval(**data, n_bootstrap=400)
    nrm = InverseProbabilityWeighting().estimate_interval(**data, method="normal")
    assert b["mean"] == nrm["mean"]
    assert abs((b["upper"] - b["lower"]) / (nrm["upper"] - nrm["lower"]) - 1) < 0.2


def test_refit_bootstrap_interval_covers_sample_mean():
    r = (np.random.default_rng(0).random(5000) < 0.1).astype(float)
    ci = refit_bootstrap_interval(lambda idx: r[idx].mean(), len(r), n_bootstrap=200)
    assert ci["lower"] < 0.1 < ci["upper"] and ci["mean"] == r.mean()


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError):
        prepare(reward=[1, 0], pscore=[0.5, 0.0], evaluation_pscore=[1, 1])
    with pytest.raises(ValueError):
        prepare(reward=[1, np.nan], pscore=[0.5, 0.5], evaluation_pscore=[1, 1])
    with pytest.raises(ValueError):
        prepare(reward=[1, 0], pscore=[0.5, 0.5])
    with pytest.raises(ValueError):
        prepare(reward=[], pscore=[], evaluation_pscore=[])
