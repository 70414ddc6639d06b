"""Logged rounds of any log format in one shape, the reward model's terms, and DM's refit interval.

A round t is one shown slot: context c_t, candidate list C_t (the items the evaluation
policy chooses among), logged item a_t = C_t[action_t] in slot s_t, reward r_t, logging
propensity pb_t, and the evaluation policy's slot marginals P_t [len(C_t), n_slots]. Rounds
share contexts, candidate lists and P by id (one per decision, or per distinct value). With
a reward model q (:class:`replay.reward_model.RewardModel`, fitted on (c_t, a_t, s_t) -> r_t):

    pe_t = P_t[action_t, s_t],   v_hat_t = sum_a P_t[a, s_t] q(c_t, a, s_t),   q_hat_t = q(c_t, a_t, s_t)

Features are encoded once; a refit on a bootstrap resample of the rounds only relearns the
weights. DM's own error is mostly the model's, so its interval refits the model per resample.

>>> import numpy as np
>>> r = LoggedRounds(reward=np.array([1.0, 0.0]), pscore=np.array([0.5, 0.5]), position=np.array([0, 1]),
...     action=np.array([0, 1]), context_id=np.zeros(2, int), candidates_id=np.zeros(2, int),
...     dist_id=np.zeros(2, int), contexts=[{"d": "m"}], candidates=[["a", "b"]], dists=[np.eye(2)])
>>> r.evaluation_pscore.tolist()
[1.0, 1.0]
>>> v_hat, q_hat = r.model_terms(r.fit())
>>> bool(np.all((0 < v_hat) & (v_hat < 1))), np.allclose(v_hat, q_hat)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.replay.ope.base import refit_bootstrap_interval
from streamrec.replay.reward_model import RewardModel


def base_logit(reward: np.ndarray) -> float:
    """Log-odds of the mean reward, clipped to [1e-4, 1 - 1e-4] (the reward model's starting bias)."""
    p = min(max(float(np.mean(reward)), 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


def stack_padded(blocks: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Row-stack encoded (index, value) blocks of different widths; index -1 / value 0 pad."""
    width = max(b[0].shape[1] for b in blocks)
    n = sum(b[0].shape[0] for b in blocks)
    idx, val = np.full((n, width), -1, np.int64), np.zeros((n, width))
    at = 0
    for i, v in blocks:
        idx[at : at + i.shape[0], : i.shape[1]] = i
        val[at : at + i.shape[0], : i.shape[1]] = v
        at += i.shape[0]
    return idx, val


@dataclass
class LoggedRounds:
    """Per-round arrays (see the module docstring) plus the shared contexts, candidates and P."""

    reward: np.ndarray
    pscore: np.ndarray
    position: np.ndarray
    action: np.ndarray
    context_id: np.ndarray
    candidates_id: np.ndarray
    dist_id: np.ndarray
    contexts: list[Mapping[str, Any]]
    candidates: list[Sequence[Any] | np.ndarray]
    dists: list[np.ndarray]
    n_bits: int = 18
    _encoded: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return int(self.reward.shape[0])

    @property
    def evaluation_pscore(self) -> np.ndarray:
        """pi_e(a_t | c_t, s_t) per round."""
        return np.array([self.dists[d][a, s] for d, a, s in zip(self.dist_id, self.action, self.position)])

    def _encode(self) -> dict[str, Any]:
        """Training rows (one per round) and one prediction grid per (context, candidates) pair."""
        if self._encoded:
            return self._encoded
        enc = RewardModel(n_bits=self.n_bits)
        train = [
            enc.encode(self.contexts[c], [self.candidates[k][a]], [s])
            for c, k, a, s in zip(self.context_id, self.candidates_id, self.action, self.position)
        ]
        slots = list(range(int(self.position.max()) + 1))
        pairs, group = np.unique(np.stack([self.context_id, self.candidates_id], 1), axis=0, return_inverse=True)
        grids = [enc.encode(self.contexts[c], self.candidates[k], slots) for c, k in pairs]
        sizes = np.array([len(self.candidates[k]) * len(slots) for _, k in pairs])
        self._encoded.update(
            train=stack_padded(train),
            grid=stack_padded(grids),
            group=group.reshape(-1),
            offset=np.concatenate([[0], np.cumsum(sizes)[:-1]]),
            n_slots=len(slots),
        )
        return self._encoded

    def fit(self, rows: np.ndarray | None = None, epochs: int = 5, lr: float = 0.05, seed: int = 0) -> RewardModel:
        """A reward model fitted on ``rows`` (all rounds by default, repeats allowed) by ``epochs``
        SGD passes, pass e in a fresh seeded random order with step ``lr / (1 + e)``.

        Log order is not used: one pass in it weights the log's end most (and a reward log ends
        in a run of unclicked decisions closed by expiry); the decaying passes bring the fit
        close to the optimum, so the estimate hardly depends on the order (a single pass at
        0.05 moved DM by ~10% between two shuffles of a simulated log; five passes by ~4%)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, np.int64)
        rng = np.random.default_rng(seed)
        idx, val = self._encode()["train"]
        model = RewardModel(n_bits=self.n_bits, init_logit=base_logit(self.reward[rows]))
        for e in range(epochs):
            model.lr = lr / (1 + e)
            model.learn_rows(idx, val, self.reward, rng.permutation(rows))
        return model

    def model_terms(self, model: RewardModel, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(v_hat, q_hat) per round under ``model``; only ``rows`` are filled when given (the rest NaN)."""
        e = self._encode()
        q = model.predict_rows(*e["grid"])
        n = len(self)
        todo = np.arange(n) if rows is None else np.unique(rows)
        v_hat, q_hat = np.full(n, np.nan), np.full(n, np.nan)
        for t in todo:
            s, a = self.position[t], self.action[t]
            g = e["group"][t]
            qg = q[e["offset"][g] : e["offset"][g] + len(self.candidates[self.candidates_id[t]]) * e["n_slots"]]
            dist = self.dists[self.dist_id[t]]  # rows = candidates (fewer if the policy truncated them)
            qg = qg.reshape(-1, e["n_slots"])
            v_hat[t] = dist[:, s] @ qg[: dist.shape[0], s]
            q_hat[t] = qg[a, s]
        return v_hat, q_hat


def dm_refit_interval(
    rounds: LoggedRounds,
    n_refits: int,
    alpha: float = 0.05,
    progress: Callable[[int], None] | None = None,
    value: float | None = None,
) -> dict[str, float]:
    """DM's percentile interval with the reward model refitted on each of ``n_refits`` bootstrap
    resamples of the rounds (a model held fixed gives a far too narrow interval).
    ``progress(1)`` is called after each fit; ``value``: DM on all rounds, if known."""

    def dm_on(rows: np.ndarray) -> float:
        value = float(rounds.model_terms(rounds.fit(rows), rows)[0][rows].mean())
        if progress is not None:
            progress(1)
        return value

    return refit_bootstrap_interval(dm_on, len(rounds), alpha=alpha, n_bootstrap=n_refits, value=value)
