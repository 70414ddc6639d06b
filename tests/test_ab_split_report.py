"""A/B split determinism and shares; A/B statistics."""

import json
import subprocess
import sys

import pytest

from streamrec.online.ab_split import ABSplit
from streamrec.replay.ab_report import ab_summary, two_proportion_ztest, wilson_interval


def test_split_is_deterministic_across_processes():
    ab = ABSplit({"a": 0.3, "b": 0.7}, salt="s1")
    mine = [ab.arm_for(f"user{i}") for i in range(50)]
    code = (
        "from streamrec.online.ab_split import ABSplit; ab = ABSplit({'a': 0.3, 'b': 0.7}, salt='s1');"
        "print(','.join(ab.arm_for(f'user{i}') for i in range(50)))"
    )
    other = (
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": "123", "PYTHONPATH": "."},
        )
        .stdout.strip()
        .split(",")
    )
    assert mine == other


def test_shares_are_respected_and_salt_matters():
    ab = ABSplit({"a": 0.2, "b": 0.5, "c": 0.3}, salt="x")
    n = 30000
    arms = [ab.arm_for(str(i)) for i in range(n)]
    for name, share in ab.arms.items():
        assert abs(arms.count(name) / n - share) < 0.015
    other = ABSplit({"a": 0.2, "b": 0.5, "c": 0.3}, salt="y")
    assert sum(a != other.arm_for(str(i)) for i, a in enumerate(arms[:1000])) > 300


@pytest.mark.parametrize("arms", [{}, {"a": 0.5, "b": 0.6}, {"a": 1.0, "b": 0.0}, {"a": float("nan")}])
def test_invalid_shares_rejected(arms):
    with pytest.raises(ValueError):
        ABSplit(arms)


def test_parse_spec():
    assert ABSplit.parse("control=0.5,explore=0.5").arms == {"control": 0.5, "explore": 0.5}


def test_wilson_and_ztest():
    lo, hi = wilson_interval(42, 10000)
    assert lo < 0.0042 < hi and round(lo, 4) == 0.0031
    t = two_proportion_ztest(100, 1000, 150, 1000)
    assert t["diff"] == pytest.approx(0.05) and t["z"] > 3 and t["p_value"] < 0.001


def test_ab_summary_counts_decisions_once():
    recs = [
        {"rec_id": "r1", "arm": "A", "reward": 1.0},
        {"rec_id": "r1", "arm": "A", "reward": 1.0},
        {"rec_id": "r2", "arm": "A", "reward": 0.0},
        {"rec_id": "r3", "arm": "B", "reward": 0.0},
    ]
    s = ab_summary(recs, control="A")
    assert s["arms"]["A"]["decisions"] == 2 and s["arms"]["A"]["clicks"] == 1
    assert s["arms"]["B"]["ctr"] == 0.0 and "B" in s["tests"]
    json.dumps(s)
