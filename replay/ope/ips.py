"""Inverse probability weighting (Horvitz-Thompson):

    V_IPS = (1/n) sum_t  w_t r_t,   w_t = min(pi_e(a_t|x_t,s_t) / pi_b(a_t|x_t,s_t), clip)

Unbiased when pi_b > 0 wherever pi_e > 0 and clip = inf.

>>> from streamrec.replay.ope.ips import InverseProbabilityWeighting
>>> ips = InverseProbabilityWeighting()
>>> ips.estimate_policy_value(reward=[1, 0, 1, 0], pscore=[0.5] * 4, evaluation_pscore=[1, 0, 0, 1])
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.replay.ope.base import BaseOffPolicyEstimator


@dataclass
class InverseProbabilityWeighting(BaseOffPolicyEstimator):
    """IPS with optional weight clipping."""

    clip: float = np.inf
    estimator_name = "ips"

    def _terms(self, d):
        return np.minimum(d["pe"] / d["pb"], self.clip) * d["r"], None
