"""CPU time, memory and children of running processes, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os
from pathlib import Path


def children(pid: int) -> list[int]:
    """Child processes of ``pid``, started by any of its threads (a flow starts its commit
    worker from a Bytewax worker thread, not from its main thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return sorted(out)


def subtree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a flow process and its epoch-commit worker)."""
    out = [pid]
    for kid in children(pid):
        out += subtree(kid)
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) ``pid`` has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants_cpu(pid: int) -> float:
    """CPU seconds used so far by the descendants of ``pid`` (a flow's epoch-commit worker)."""
    return sum(cpu_s(p) for p in subtree(pid)[1:])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0
