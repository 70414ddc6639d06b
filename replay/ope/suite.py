"""Run every applicable estimator on one set of per-round inputs.

``run_estimators`` returns ``{name: {"mean", "lower", "upper"}}`` for IPS,
SNIPS, DM and DR (DM/DR when model terms are given) and the replay method
when the log is uniformly random. ``estimate_rounds`` does it for a
:class:`LoggedRounds` of any log format: fits the reward model, runs the
estimators and, with ``dm_refits > 0``, gives DM the refit-bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from streamrec.replay.ope.direct_method import DirectMethod
from streamrec.replay.ope.doubly_robust import DoublyRobust
from streamrec.replay.ope.ips import InverseProbabilityWeighting
from streamrec.replay.ope.logged_rounds import LoggedRounds, dm_refit_interval
from streamrec.replay.ope.replay_method import ReplayMethod
from streamrec.replay.ope.snips import SelfNormalizedInverseProbabilityWeighting


def is_uniform_log(pscore: np.ndarray, rtol: float = 1e-6) -> bool:
    """True when every logged propensity is the same (a uniformly random logging policy)."""
    p = np.asarray(pscore, np.float64)
    return bool(p.size and np.allclose(p, p[0], rtol=rtol, atol=0))


def run_estimators(
    reward: np.ndarray,
    pscore: np.ndarray,
    evaluation_pscore: np.ndarray,
    estimated_value: np.ndarray | None = None,
    estimated_reward_logged: np.ndarray | None = None,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    method: str = "bootstrap",
) -> dict[str, dict[str, float]]:
    """Estimates with intervals of the evaluation policy's value per round."""
    base: dict[str, Any] = dict(reward=reward, pscore=pscore, evaluation_pscore=evaluation_pscore)
    kw: dict[str, Any] = dict(alpha=alpha, n_bootstrap=n_bootstrap, random_state=random_state, method=method)
    out = {
        "ips": InverseProbabilityWeighting().estimate_interval(**base, **kw),
        "snips": SelfNormalizedInverseProbabilityWeighting().estimate_interval(**base, **kw),
    }
    if estimated_value is not None:
        out["dm"] = DirectMethod().estimate_interval(reward=reward, estimated_value=estimated_value, **kw)
        if estimated_reward_logged is not None:
            out["dr"] = DoublyRobust().estimate_interval(
                **base, estimated_value=estimated_value, estimated_reward_logged=estimated_reward_logged, **kw
            )
    if is_uniform_log(pscore):
        out["replay"] = ReplayMethod().estimate_interval(reward=reward, evaluation_pscore=evaluation_pscore, **kw)
    return out


def estimate_rounds(
    rounds: LoggedRounds,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    method: str = "bootstrap",
    dm_refits: int = 50,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, float]]:
    """:func:`run_estimators` on ``rounds`` with a reward model fitted on all of them; DM's
    interval refits the model on ``dm_refits`` resamples (0 = model held fixed, too narrow).
    ``progress(1)`` after each of the ``1 + dm_refits`` model fits."""
    v_hat, q_hat = rounds.model_terms(rounds.fit())
    if progress is not None:
        progress(1)
    res = run_estimators(
        rounds.reward,
        rounds.pscore,
        rounds.evaluation_pscore,
        v_hat,
        q_hat,
        alpha=alpha,
        n_bootstrap=n_bootstrap,
        method=method,
    )
    if dm_refits > 0:
        refit = dm_refit_interval(rounds, dm_refits, alpha, progress, value=res["dm"]["mean"])
        res["dm"] = {**res["dm"], "lower": refit["lower"], "upper": refit["upper"]}
    return res
