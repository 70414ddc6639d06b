"""Replay method (Li et al. 2011) for logs of a uniformly random policy.

Keep the rounds where the evaluation policy would have taken the logged
action, average their rewards. For a stochastic policy we use the expected
match ``m_t = pi_e(a_t | x_t, s_t)`` instead of a sampled one (same
expectation, less noise; for a deterministic policy m_t is 0/1 as in OBP):

    V_RM = sum_t m_t r_t / sum_t m_t

On a uniform log (pi_b constant) this equals SNIPS. The logged pscore is not
used, which is why the method is only valid for uniformly random logs.

>>> from streamrec.replay.ope.replay_method import ReplayMethod
>>> ReplayMethod().estimate_policy_value(reward=[1, 0, 1, 0], evaluation_pscore=[1, 1, 0, 0])
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.replay.ope.base import BaseOffPolicyEstimator, prepare


@dataclass
class ReplayMethod(BaseOffPolicyEstimator):
    """Rejection-sampling replay (expected-match form)."""

    estimator_name = "replay"

    def estimate_round_terms(self, **inputs):
        if inputs.get("pscore") is None:
            inputs["pscore"] = [1.0] * len(inputs["reward"])
        return self._terms(prepare(**inputs))

    def _terms(self, d):
        return d["pe"] * d["r"], d["pe"]
