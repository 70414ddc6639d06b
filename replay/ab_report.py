"""A/B statistics from reward records: per-arm CTR with Wilson intervals and two-proportion z-tests.

A decision (rec_id) counts once; it is a success if any of its records has
reward > 0. For arms A (control, the first arm seen or ``control``) and B:

    z = (p_B - p_A) / sqrt(p (1 - p) (1/n_A + 1/n_B)),  p = pooled CTR,  p-value = 2 (1 - Phi(|z|))

Wilson interval: ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``.

>>> from streamrec.replay.ab_report import wilson_interval, two_proportion_ztest
>>> lo, hi = wilson_interval(38, 10000)
>>> round(lo, 4), round(hi, 4)
(0.0028, 0.0052)
>>> round(two_proportion_ztest(50, 1000, 50, 1000)["p_value"], 3)
1.0
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from statistics import NormalDist
from typing import Any


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ((0, 1) when n == 0)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - alpha / 2)
    p = successes / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def two_proportion_ztest(s_a: int, n_a: int, s_b: int, n_b: int) -> dict[str, float]:
    """Pooled two-proportion z-test of p_B - p_A."""
    if n_a <= 0 or n_b <= 0:
        return {"diff": float("nan"), "z": float("nan"), "p_value": float("nan")}
    pa, pb = s_a / n_a, s_b / n_b
    p = (s_a + s_b) / (n_a + n_b)
    se = math.sqrt(p * (1 - p) * (1 / n_a + 1 / n_b))
    z = (pb - pa) / se if se > 0 else 0.0
    return {"diff": pb - pa, "z": z, "p_value": 2 * (1 - NormalDist().cdf(abs(z)))}


def read_records(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """Reward records from JSONL; returns (records, number of bad lines skipped)."""
    out, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(obj, dict) and "rec_id" in obj:
                out.append(obj)
            else:
                bad += 1
    return out, bad


def ab_summary(records: Iterable[Mapping[str, Any]], control: str | None = None, alpha: float = 0.05) -> dict[str, Any]:
    """Per-arm decisions, clicks, CTR, Wilson interval; z-test of each arm against the control arm."""
    clicked: dict[str, dict[str, bool]] = {}
    for r in records:
        arm = str(r.get("arm") or "default")
        d = clicked.setdefault(arm, {})
        rid = str(r["rec_id"])
        reward = r.get("reward") or 0
        d[rid] = d.get(rid, False) or (isinstance(reward, (int, float)) and reward > 0)
    arms: dict[str, dict[str, float]] = {}
    counts: dict[str, tuple[int, int]] = {}  # arm -> (clicks, decisions)
    for arm, d in clicked.items():
        n, s = len(d), sum(d.values())
        counts[arm] = (s, n)
        lo, hi = wilson_interval(s, n, alpha)
        arms[arm] = {"decisions": n, "clicks": s, "ctr": s / n if n else 0.0, "lower": lo, "upper": hi}
    ctrl = control if control in arms else (next(iter(arms)) if arms else None)
    tests = {}
    if ctrl is not None:
        c_clicks, c_n = counts[ctrl]
        for arm, (s, n) in counts.items():
            if arm != ctrl:
                tests[arm] = two_proportion_ztest(c_clicks, c_n, s, n)
    return {"control": ctrl, "arms": arms, "tests": tests}


def format_summary(summary: Mapping[str, Any]) -> str:
    """A plain-text table."""
    lines = [f"{'arm':<16}{'decisions':>10}{'clicks':>8}{'CTR':>9}  95% Wilson"]
    for arm, a in summary["arms"].items():
        lines.append(
            f"{arm:<16}{a['decisions']:>10}{a['clicks']:>8}{a['ctr']:>9.4f}  [{a['lower']:.4f}, {a['upper']:.4f}]"
        )
    for arm, t in summary["tests"].items():
        lines.append(f"{arm} vs {summary['control']}: diff {t['diff']:+.4f}  z {t['z']:+.2f}  p {t['p_value']:.4f}")
    return "\n".join(lines)
