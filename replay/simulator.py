"""Click simulator with known preferences: closes the policy loop and logs decisions for OPE.

Users u and items i have latent vectors (dimension ``dim``); item i's
attraction for u and the click probability in slot s are

    a(u, i) = sigmoid(<x_u, y_i> + b_i),     P(click | u, i, s) = e_s * a(u, i)

with examination probabilities ``e_s`` (position bias, default 1/log2(s + 2)).
The optimal slate puts the k most attractive items in slot order, so the
expected regret of a shown slate is ``sum_s e_s (a*_(s) - a(u, shown_s))``.
Optional drift: at event ``drift_at`` every user vector is rotated by
``drift_angle`` in a random plane. The user's vector is observable (the
context), item vectors and biases are hidden.

``run_closed_loop`` drives a policy + learner (any object with
``scores(user) -> (items, scores)`` and ``learn(user, item, reward)``; the
default :class:`LinearItemLearner` is per-item online logistic regression on
the user vector). ``log_decisions`` writes logged decisions with propensities
from a fixed scorer, and ``true_value`` gives a policy's exact value on it.

>>> from streamrec.replay.simulator import ClickSimulator, SimulatorConfig
>>> sim = ClickSimulator(SimulatorConfig(n_users=10, n_items=20, k=3, seed=1))
>>> bool(sim.optimal_value(0) >= sim.slate_value(0, [0, 1, 2]))
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class SimulatorConfig:
    n_users: int = 1000
    n_items: int = 100
    dim: int = 8
    k: int = 5
    base_logit: float = -2.5  # mean item bias
    bias_sd: float = 0.5
    pref_scale: float = 1.0  # sd of <x_u, y_i>
    examination: tuple[float, ...] | None = None
    drift_at: int | None = None
    drift_angle: float = math.pi / 2
    seed: int = 0


class Learner(Protocol):
    def scores(self, user: int) -> tuple[np.ndarray, np.ndarray]: ...
    def learn(self, user: int, item: Any, reward: float) -> None: ...


class ClickSimulator:
    """Users, items, known click probabilities, position bias and optional drift."""

    def __init__(self, config: SimulatorConfig | None = None):
        self.cfg = cfg = config or SimulatorConfig()
        rng = np.random.default_rng(cfg.seed)
        scale = math.sqrt(cfg.pref_scale / math.sqrt(cfg.dim))
        self.user_vec = rng.normal(0, scale, (cfg.n_users, cfg.dim))
        self.item_vec = rng.normal(0, scale, (cfg.n_items, cfg.dim))
        self.item_bias = rng.normal(cfg.base_logit, cfg.bias_sd, cfg.n_items)
        k = min(cfg.k, cfg.n_items)
        self.k = k
        self.examination = (
            np.asarray(cfg.examination[:k], np.float64) if cfg.examination else 1.0 / np.log2(np.arange(k) + 2.0)
        )
        self._rng = np.random.default_rng(cfg.seed + 1)
        self.t = 0

    def attraction(self, user: int) -> np.ndarray:
        """a(u, i) for every item."""
        z = self.user_vec[user] @ self.item_vec.T + self.item_bias
        return 1.0 / (1.0 + np.exp(-z))

    def optimal_value(self, user: int) -> float:
        """Expected clicks of the best slate."""
        a = np.sort(self.attraction(user))[::-1][: self.k]
        return float(a @ self.examination[: len(a)])

    def slate_value(self, user: int, slate: Any) -> float:
        """Expected clicks of a shown slate (item indices in slot order)."""
        idx = np.asarray(slate, np.int64)
        return float(self.attraction(user)[idx] @ self.examination[: len(idx)])

    def marginal_value(self, user: int, marginals: np.ndarray) -> float:
        """Expected clicks of a stochastic policy from its slot marginals [n_items, k]."""
        return float(self.attraction(user) @ marginals @ self.examination[: marginals.shape[1]])

    def next_user(self) -> int:
        """Draw the next user (uniform); applies drift when its event comes."""
        if self.cfg.drift_at is not None and self.t == self.cfg.drift_at:
            self.rotate(self.cfg.drift_angle)
        self.t += 1
        return int(self._rng.integers(self.cfg.n_users))

    def clicks(self, user: int, slate: Any) -> np.ndarray:
        """Sampled clicks (0/1 per slot) of a shown slate."""
        idx = np.asarray(slate, np.int64)
        p = self.attraction(user)[idx] * self.examination[: len(idx)]
        return (self._rng.random(len(idx)) < p).astype(np.float64)

    def rotate(self, angle: float) -> None:
        """Rotate every user vector by ``angle`` in one random plane (preference drift)."""
        rng = np.random.default_rng(self.cfg.seed + 2)
        q, _ = np.linalg.qr(rng.normal(size=(self.cfg.dim, 2)))
        a, b = q[:, 0], q[:, 1]
        pa, pb = self.user_vec @ a, self.user_vec @ b
        c, s = math.cos(angle), math.sin(angle)
        self.user_vec += np.outer(pa * (c - 1) - pb * s, a) + np.outer(pa * s + pb * (c - 1), b)


class LinearItemLearner:
    """Per-item logistic regression on the observed user vector, SGD: q = sigmoid(<w_i, x_u> + c_i)."""

    def __init__(self, sim: ClickSimulator, lr: float = 0.05, prior_logit: float | None = None):
        self.x = sim.user_vec  # observed context (view: sees drift)
        n = sim.cfg.n_items
        self.w = np.zeros((n, sim.cfg.dim))
        self.c = np.full(n, sim.cfg.base_logit if prior_logit is None else prior_logit)
        self.items = np.arange(n)
        self.lr = lr

    def scores(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        return self.items, self.w @ self.x[user] + self.c

    def learn_slate(self, user: int, items: np.ndarray, rewards: np.ndarray) -> None:
        x = self.x[user]
        z = np.clip(self.w[items] @ x + self.c[items], -30, 30)
        g = rewards - 1.0 / (1.0 + np.exp(-z))
        self.w[items] += self.lr * g[:, None] * x
        self.c[items] += self.lr * g

    def learn(self, user: int, item: Any, reward: float) -> None:
        self.learn_slate(user, np.array([int(item)]), np.array([float(reward)]))


@dataclass
class LoopResult:
    policy: str
    events: int
    reward: float
    regret: float
    regret_curve: np.ndarray = field(repr=False)  # cumulative expected regret at checkpoints
    checkpoints: np.ndarray = field(repr=False)
    seconds: float = 0.0


def run_closed_loop(
    sim: ClickSimulator,
    policy: Any,
    learner: Learner | None = None,
    n_events: int = 10_000,
    seed: int = 0,
    n_checkpoints: int = 200,
) -> LoopResult:
    """Recommend, click, learn for ``n_events`` users; cumulative expected regret vs the optimal slate."""
    learner = learner or LinearItemLearner(sim)
    every = max(1, n_events // n_checkpoints)
    curve, marks = [], []
    regret = reward = 0.0
    batch = getattr(learner, "learn_slate", None)
    t0 = time.perf_counter()
    for t in range(n_events):
        u = sim.next_user()
        items, scores = learner.scores(u)
        slate = policy.select(items, scores, sim.k, seed=seed * 1_000_003 + t, propensities=False)
        shown = np.asarray(slate.items, np.int64)
        clicks = sim.clicks(u, shown)
        reward += clicks.sum()
        regret += sim.optimal_value(u) - sim.slate_value(u, shown)
        if batch is not None:
            batch(u, shown, clicks)
        else:
            for it, r in zip(shown, clicks):
                learner.learn(u, it, r)
        for it, r in zip(shown, clicks):
            policy.update(it, r)
        if (t + 1) % every == 0:
            curve.append(regret)
            marks.append(t + 1)
    return LoopResult(policy.name, n_events, reward, regret, np.array(curve), np.array(marks), time.perf_counter() - t0)


class FixedScorer:
    """A fixed (not learning) scorer: true logits plus fixed Gaussian noise, for logging decisions."""

    def __init__(self, sim: ClickSimulator, noise: float = 0.5, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.logits = (
            sim.user_vec @ sim.item_vec.T + sim.item_bias + rng.normal(0, noise, (sim.cfg.n_users, sim.cfg.n_items))
        )
        self.items = np.arange(sim.cfg.n_items)

    def scores(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        return self.items, self.logits[user]

    def learn(self, user: int, item: Any, reward: float) -> None:
        pass


@dataclass
class LoggedDecisions:
    """Per-round arrays (one round = one shown slot): OBP layout."""

    user: np.ndarray
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    decision: np.ndarray


def log_decisions(
    sim: ClickSimulator, policy: Any, scorer: FixedScorer, n_decisions: int, seed: int = 0
) -> LoggedDecisions:
    """Run ``policy`` on ``scorer`` for ``n_decisions`` users, recording slot rounds with propensities."""
    k = sim.k
    n = n_decisions * k
    out = {name: np.empty(n, np.int64) for name in ("user", "action", "position", "decision")}
    reward, pscore = np.empty(n), np.empty(n)
    pos = np.arange(k)
    for t in range(n_decisions):
        u = sim.next_user()
        items, scores = scorer.scores(u)
        slate = policy.select(items, scores, k, seed=seed * 1_000_003 + t)
        sl = slice(t * k, t * k + len(slate))
        out["user"][sl], out["decision"][sl] = u, t
        out["action"][sl] = np.asarray(slate.items, np.int64)
        out["position"][sl] = pos[: len(slate)]
        reward[sl] = sim.clicks(u, slate.items)
        pscore[sl] = slate.propensities
    return LoggedDecisions(out["user"], out["action"], out["position"], reward, pscore, out["decision"])


def policy_marginals(sim: ClickSimulator, policy: Any, scorer: FixedScorer) -> np.ndarray:
    """Slot marginals of ``policy`` on ``scorer`` for every user: [n_users, n_items, k]."""
    return np.stack([policy.probabilities(*scorer.scores(u), sim.k) for u in range(sim.cfg.n_users)])


def true_value(sim: ClickSimulator, marginals: np.ndarray) -> float:
    """Exact expected reward per round (per shown slot) under uniform users, from the marginals."""
    return float(np.mean([sim.marginal_value(u, marginals[u]) for u in range(sim.cfg.n_users)]) / sim.k)
