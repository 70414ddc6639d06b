"""Off-policy estimators (OBP style): IPS, SNIPS, DM, DR and the replay method."""

from streamrec.replay.ope.base import BaseOffPolicyEstimator, interval, prepare
from streamrec.replay.ope.direct_method import DirectMethod
from streamrec.replay.ope.doubly_robust import DoublyRobust
from streamrec.replay.ope.ips import InverseProbabilityWeighting
from streamrec.replay.ope.replay_method import ReplayMethod
from streamrec.replay.ope.snips import SelfNormalizedInverseProbabilityWeighting

__all__ = [
    "BaseOffPolicyEstimator",
    "InverseProbabilityWeighting",
    "SelfNormalizedInverseProbabilityWeighting",
    "DirectMethod",
    "DoublyRobust",
    "ReplayMethod",
    "interval",
    "prepare",
]
