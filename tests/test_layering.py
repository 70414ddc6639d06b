"""The packages' imports point one way: contract and online at the bottom, shell on top.

Read from the code (every ``import`` / ``from ... import`` of every module, lazy ones in
function bodies included), so the README's architecture section cannot drift from it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# package -> the packages of ours it may import (the README's architecture section)
ALLOWED = {
    "contract": set(),
    "online": set(),
    "state": {"online"},
    "flows": {"contract", "online", "state"},
    "replay": {"contract", "online"},
    "shell": {"contract", "online", "state", "flows", "replay"},
}


def imports_of(package: str) -> dict[str, set[str]]:
    """streamrec sub-package -> the modules of ``package`` that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                parts = name.split(".")
                if parts[0] in ALLOWED and parts[0] != package:
                    found.setdefault("bare:" + parts[0], set()).add(str(path.relative_to(REPO)))
                if parts[0] == "streamrec" and len(parts) > 1 and parts[1] != package:
                    found.setdefault(parts[1], set()).add(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    found = imports_of(package)
    bare = {k: v for k, v in found.items() if k.startswith("bare:")}
    assert not bare, f"{package} imports a package by its folder name instead of streamrec.*: {bare}"
    upward = {dep: files for dep, files in found.items() if dep not in ALLOWED[package]}
    assert not upward, f"{package} imports what it may not: {upward}"


def test_the_check_sees_imports():
    assert "online" in imports_of("state") and "flows" in imports_of("shell")
