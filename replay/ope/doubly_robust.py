"""Doubly robust (Dudik et al. 2011):

    V_DR = (1/n) sum_t [ sum_a pi_e(a|x_t,s_t) q(x_t,a,s_t) + w_t (r_t - q(x_t,a_t,s_t)) ]

with w_t = min(pi_e / pi_b, clip). Unbiased if either the propensities or the
reward model are right; the model term cuts the variance of IPS.

>>> from streamrec.replay.ope.doubly_robust import DoublyRobust
>>> DoublyRobust().estimate_policy_value(reward=[1, 0], pscore=[0.5, 0.5], evaluation_pscore=[1, 0],
...     estimated_value=[0.5, 0.5], estimated_reward_logged=[0.5, 0.5])
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.replay.ope.base import BaseOffPolicyEstimator


@dataclass
class DoublyRobust(BaseOffPolicyEstimator):
    """DR with optional weight clipping."""

    clip: float = np.inf
    estimator_name = "dr"
    need_model = True

    def _terms(self, d):
        w = np.minimum(d["pe"] / d["pb"], self.clip)
        return d["v_hat"] + w * (d["r"] - d["q_hat"]), None
