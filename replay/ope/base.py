"""Shared machinery of the off-policy estimators (OBP conventions).

Inputs per logged round t (a shown item in one slot): ``reward`` r_t,
``action`` a_t (item index), ``position`` s_t (0-based slot), ``pscore``
pi_b(a_t | x_t, s_t) of the logging policy, and for the evaluation policy
either ``action_dist`` [n_rounds, n_actions, len_list] (OBP) or directly
``evaluation_pscore`` = pi_e(a_t | x_t, s_t). DM and DR also take
``estimated_rewards_by_reg_model`` q(x_t, a, s) with the shape of action_dist,
or directly ``estimated_value`` = sum_a pi_e(a|x_t,s_t) q(x_t,a,s_t) and
``estimated_reward_logged`` = q(x_t, a_t, s_t) (saves memory on long logs).

Every estimator is a ratio ``V = sum_t num_t / sum_t den_t`` of per-round terms
(``den_t = 1`` for the mean-type ones). Intervals: ``method="bootstrap"``
resamples rounds with replacement (percentile interval); ``method="normal"``
uses the linearisation ``se = sd(num_t - V den_t) / (mean(den_t) sqrt(n))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np


def _vec(x: Any, name: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} rounds, expected {n}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values")
    return a


def pick(matrix: np.ndarray, action: np.ndarray, position: np.ndarray) -> np.ndarray:
    """matrix[t, action[t], position[t]] for each round t."""
    m = np.asarray(matrix)
    if m.ndim != 3:
        raise ValueError("expected an array [n_rounds, n_actions, len_list]")
    t = np.arange(m.shape[0])
    return np.asarray(m[t, np.asarray(action, np.int64), np.asarray(position, np.int64)], np.float64)


def prepare(
    reward,
    pscore=None,
    action=None,
    position=None,
    action_dist=None,
    evaluation_pscore=None,
    estimated_rewards_by_reg_model=None,
    estimated_value=None,
    estimated_reward_logged=None,
    need_pscore: bool = True,
    need_model: bool = False,
) -> dict[str, np.ndarray]:
    """Validate and reduce inputs to per-round vectors: r, pb, pe, v_hat, q_hat (as needed)."""
    r = _vec(reward, "reward")
    n = r.shape[0]
    if n == 0:
        raise ValueError("no rounds")
    out = {"r": r}
    if position is None and action is not None:
        position = np.zeros(n, np.int64)
    if need_pscore:
        if pscore is None:
            raise ValueError("pscore is required")
        pb = _vec(pscore, "pscore", n)
        if np.any(pb <= 0) or np.any(pb > 1 + 1e-9):
            raise ValueError("pscore must be in (0, 1]")
        out["pb"] = pb
        if evaluation_pscore is None:
            if action_dist is None or action is None:
                raise ValueError("give evaluation_pscore or action_dist with action and position")
            evaluation_pscore = pick(action_dist, action, position)
        out["pe"] = _vec(evaluation_pscore, "evaluation_pscore", n)
    if need_model:
        if estimated_value is None:
            if estimated_rewards_by_reg_model is None or action_dist is None:
                raise ValueError("give estimated_value or estimated_rewards_by_reg_model with action_dist")
            q = np.asarray(estimated_rewards_by_reg_model, np.float64)
            ad = np.asarray(action_dist, np.float64)
            t = np.arange(n)
            pos = np.asarray(position, np.int64)
            estimated_value = np.einsum("ta,ta->t", ad[t, :, pos], q[t, :, pos])
        out["v_hat"] = _vec(estimated_value, "estimated_value", n)
        if need_pscore:
            if estimated_reward_logged is None:
                if estimated_rewards_by_reg_model is None:
                    raise ValueError("DR needs estimated_reward_logged or estimated_rewards_by_reg_model")
                estimated_reward_logged = pick(estimated_rewards_by_reg_model, action, position)
            out["q_hat"] = _vec(estimated_reward_logged, "estimated_reward_logged", n)
    return out


@dataclass
class BaseOffPolicyEstimator:
    """Subclasses set ``estimator_name``, ``need_pscore``, ``need_model`` and implement ``_terms``."""

    estimator_name = "base"
    need_pscore = True
    need_model = False

    def _terms(self, d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def estimate_round_terms(self, **inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """(numerator, denominator or None) per round."""
        return self._terms(prepare(**inputs, need_pscore=self.need_pscore, need_model=self.need_model))

    def estimate_policy_value(self, **inputs: Any) -> float:
        """The estimate of the evaluation policy's expected reward per round."""
        num, den = self.estimate_round_terms(**inputs)
        return _ratio(num, den)

    def estimate_interval(
        self,
        alpha: float = 0.05,
        n_bootstrap: int = 1000,
        random_state: int = 0,
        method: str = "bootstrap",
        **inputs: Any,
    ) -> dict[str, float]:
        """``{"mean", "lower", "upper"}`` at level 1 - alpha."""
        num, den = self.estimate_round_terms(**inputs)
        return interval(num, den, alpha, n_bootstrap, random_state, method)


def _ratio(num: np.ndarray, den: np.ndarray | None) -> float:
    if den is None:
        return float(num.mean())
    s = den.sum()
    return float(num.sum() / s) if s > 0 else 0.0


def interval(
    num: np.ndarray,
    den: np.ndarray | None,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    method: str = "bootstrap",
) -> dict[str, float]:
    """Percentile-bootstrap or normal (linearised) interval of sum(num)/sum(den)."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    v = _ratio(num, den)
    n = num.shape[0]
    if method == "normal":
        d = np.ones(n) if den is None else den
        md = d.mean()
        se = float(np.std(num - v * d, ddof=1) / (md * np.sqrt(n))) if n > 1 and md > 0 else 0.0
        z = NormalDist().inv_cdf(1 - alpha / 2)
        return {"mean": v, "lower": v - z * se, "upper": v + z * se}
    if method != "bootstrap":
        raise ValueError("method must be 'bootstrap' or 'normal'")
    rng = np.random.default_rng(random_state)
    boots = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        boots[b] = _ratio(num[idx], None if den is None else den[idx])
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return {"mean": v, "lower": float(lo), "upper": float(hi)}


def refit_bootstrap_interval(
    value_on: Callable[[np.ndarray], float],
    n: int,
    alpha: float = 0.05,
    n_bootstrap: int = 100,
    random_state: int = 0,
    value: float | None = None,
) -> dict[str, float]:
    """Percentile interval of ``value_on(idx)`` over bootstrap resamples ``idx`` of the n rounds.

    ``value_on`` refits whatever depends on the data (e.g. the reward model of
    DM/DR) on the resampled rounds, so the interval includes the model's own
    estimation error, which the round-only bootstrap of DM ignores. ``value``: the
    estimate on all rounds when already known (else ``value_on(arange(n))``).
    """
    rng = np.random.default_rng(random_state)
    v = float(value_on(np.arange(n))) if value is None else float(value)
    boots = np.array([value_on(rng.integers(0, n, n)) for _ in range(n_bootstrap)])
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return {"mean": v, "lower": float(lo), "upper": float(hi)}
