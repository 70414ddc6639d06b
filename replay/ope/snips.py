"""Self-normalised IPS:

    V_SNIPS = sum_t w_t r_t / sum_t w_t,   w_t = pi_e(a_t|x_t,s_t) / pi_b(a_t|x_t,s_t)

Slightly biased, consistent, lower variance than IPS (E[w] = 1 normalises).

>>> from streamrec.replay.ope.snips import SelfNormalizedInverseProbabilityWeighting
>>> est = SelfNormalizedInverseProbabilityWeighting()
>>> est.estimate_policy_value(reward=[1, 0, 1, 0], pscore=[0.5] * 4, evaluation_pscore=[1, 0, 0, 0.5])
0.6666666666666666
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.replay.ope.base import BaseOffPolicyEstimator


@dataclass
class SelfNormalizedInverseProbabilityWeighting(BaseOffPolicyEstimator):
    """SNIPS (ratio estimator; bootstrap resamples numerator and denominator together)."""

    estimator_name = "snips"

    def _terms(self, d):
        w = d["pe"] / d["pb"]
        return w * d["r"], w
