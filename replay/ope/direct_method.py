"""Direct method: plug in a reward model q(x, a, s) (e.g. :class:`replay.reward_model.RewardModel`):

    V_DM = (1/n) sum_t sum_a pi_e(a | x_t, s_t) q(x_t, a, s_t)

No importance weights (low variance); biased as far as q is wrong.

>>> from streamrec.replay.ope.direct_method import DirectMethod
>>> DirectMethod().estimate_policy_value(reward=[1, 0], estimated_value=[0.25, 0.75])
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.replay.ope.base import BaseOffPolicyEstimator


@dataclass
class DirectMethod(BaseOffPolicyEstimator):
    """DM; the interval reflects round sampling only, not the reward model's own error."""

    estimator_name = "dm"
    need_pscore = False
    need_model = True

    def _terms(self, d):
        return d["v_hat"], None
