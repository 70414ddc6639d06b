"""The runnable examples in the module docstrings are true."""

import doctest
import importlib

import pytest

MODULES = ["online.policies.greedy", "online.policies.uniform", "online.policies.epsilon_greedy",
           "online.policies.softmax", "online.policies.thompson", "online.policies.ucb", "online.reward_model",
           "online.ab_split", "flows.reward_join", "replay.ope.ips", "replay.ope.snips", "replay.ope.direct_method",
           "replay.ope.doubly_robust", "replay.ope.replay_method", "replay.ab_report", "replay.simulator"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
