"""Exploration policies over a ranked candidate list, with slot propensities.

``make_policy("egreedy:0.1")`` builds one from a short spec:
``greedy``, ``uniform``, ``egreedy:EPS``, ``softmax:T``, ``thompson:SIGMA0``, ``ucb:C``.
"""

from __future__ import annotations

from streamrec.online.policies.base import Policy, Slate
from streamrec.online.policies.epsilon_greedy import EpsilonGreedy
from streamrec.online.policies.greedy import Greedy
from streamrec.online.policies.softmax import Softmax
from streamrec.online.policies.thompson import GaussianThompson
from streamrec.online.policies.ucb import UCB
from streamrec.online.policies.uniform import UniformRandom

__all__ = [
    "Policy",
    "Slate",
    "Greedy",
    "UniformRandom",
    "EpsilonGreedy",
    "Softmax",
    "GaussianThompson",
    "UCB",
    "make_policy",
]


def make_policy(spec: str) -> Policy:
    """Policy from ``name[:param]``; raises ValueError on an unknown name or bad parameter."""
    name, _, arg = spec.strip().partition(":")
    name = name.lower()
    try:
        if name == "greedy":
            return Greedy()
        if name in ("uniform", "random"):
            return UniformRandom()
        if name in ("egreedy", "epsilon-greedy", "epsilon_greedy"):
            return EpsilonGreedy(float(arg) if arg else 0.1)
        if name in ("softmax", "boltzmann"):
            return Softmax(float(arg) if arg else 0.1)
        if name in ("thompson", "ts"):
            return GaussianThompson(float(arg) if arg else 1.0)
        if name == "ucb":
            return UCB(float(arg) if arg else 0.1)
    except ValueError as exc:
        raise ValueError(f"bad policy spec {spec!r}: {exc}") from None
    raise ValueError(
        f"unknown policy {spec!r}; expected greedy, uniform, egreedy:EPS, softmax:T, thompson:SIGMA0 or ucb:C"
    )
