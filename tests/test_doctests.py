"""The runnable examples in the module docstrings are true (every module of every package)."""

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["contract", "online", "state", "flows", "replay", "shell"]


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        mod = importlib.import_module(f"streamrec.{pkg}")
        names.append(mod.__name__)
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, prefix=mod.__name__ + ".")]
    return sorted(names)


MODULES = _modules()


def test_every_package_is_walked():
    assert "streamrec.online.recommender" in MODULES and "streamrec.replay.ope.ips" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
