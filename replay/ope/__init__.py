"""Off-policy estimators (OBP style): IPS, SNIPS, DM, DR and the replay method."""

from replay.ope.base import BaseOffPolicyEstimator, interval, prepare
from replay.ope.direct_method import DirectMethod
from replay.ope.doubly_robust import DoublyRobust
from replay.ope.ips import InverseProbabilityWeighting
from replay.ope.replay_method import ReplayMethod
from replay.ope.snips import SelfNormalizedInverseProbabilityWeighting

__all__ = ["BaseOffPolicyEstimator", "InverseProbabilityWeighting", "SelfNormalizedInverseProbabilityWeighting",
           "DirectMethod", "DoublyRobust", "ReplayMethod", "interval", "prepare"]
