"""A River-style factorization machine classifier over hashed features.

    logit(x) = w0 + sum_j w_j x_j + sum_{j < j'} <v_j, v_j'> x_j x_j'
    p(y = 1 | x) = sigmoid(logit(x))

String values are one-hot encoded as ``"{name}_{value}"`` (River's convention), numbers
are used as they are; names are hashed into ``n_buckets`` rows. Learning minimises the
logistic loss by SGD or per-coordinate AdaGrad with L2 (``online.fm_kernels``), so this
estimator is the engine's FM on its own, handy for checks against ``river.facto``.

>>> fm = FMClassifier(n_factors=4, n_buckets=1024, lr=0.1, seed=1)
>>> for _ in range(30):
...     fm.learn_one({"user": "a", "item": "x"}, True)
...     fm.learn_one({"user": "a", "item": "y"}, False)
>>> fm.predict_one({"user": "a", "item": "x"}), fm.predict_one({"user": "a", "item": "y"})
(True, False)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from streamrec.online.fm_kernels import fm_logit, fm_step
from streamrec.online.hashing import FeatureHasher
from streamrec.online.layout import init_fm


class FMClassifier:
    """Binary FM; ``learn_one(x, y)``, ``predict_proba_one(x)``, ``predict_one(x)``."""

    def __init__(self, n_factors: int = 8, n_buckets: int = 1 << 16, lr: float = 0.05,
                 optimizer: str = "sgd", l2_weight: float = 0.0, l2_latent: float = 0.0,
                 intercept_lr: float = 0.01, init_std: float = 0.1, clip_gradient: float = 1e12,
                 adagrad_eps: float = 1e-8, seed: int = 42) -> None:
        self.lr, self.optimizer = lr, optimizer
        self.l2_weight, self.l2_latent, self.intercept_lr = l2_weight, l2_latent, intercept_lr
        self.clip_gradient, self.adagrad_eps = clip_gradient, adagrad_eps
        self.hasher = FeatureHasher(n_buckets)
        self.w, self.v = init_fm(n_buckets, n_factors, init_std, seed)
        self.v[:] = (np.random.default_rng(seed).standard_normal(self.v.shape) * init_std)
        self.gw = np.zeros_like(self.w)
        self.gv = np.zeros_like(self.v)
        self.glob = np.zeros(1)
        self._dirty = np.zeros(n_buckets, np.bool_)
        self._s = np.zeros((6, n_factors))

    def row_of(self, name: str) -> int:
        """Row of a one-hot feature name such as ``"user_a"``."""
        return self.hasher.row(name)

    def _encode(self, x: dict[str, Any]):
        rows, xs = [], []
        for name, value in x.items():
            if isinstance(value, str):
                rows.append(self.hasher.row(f"{name}_{value}"))
                xs.append(1.0)
            elif isinstance(value, (int, float)) and math.isfinite(value) and value != 0:
                rows.append(self.hasher.row(str(name)))
                xs.append(float(value))
        n = len(rows)
        return np.asarray(rows, np.int64), np.asarray(xs, np.float64), np.zeros(n, np.int8), n

    def _logit(self, rows, xs, grp, n) -> float:
        return fm_logit(self.glob[0], self.w, self.v, rows, xs, grp, n, self._s)

    def learn_one(self, x: dict[str, Any], y: bool) -> None:
        """One gradient step on the logistic loss of ``(x, y)``."""
        rows, xs, grp, n = self._encode(x)
        z = self._logit(rows, xs, grp, n)
        fm_step(z, 1.0 if y else 0.0, self.glob, self.w, self.v, self.gw, self.gv, rows, xs,
                grp, n, self._s, self.lr, self.l2_weight, self.l2_latent,
                self.optimizer == "adagrad", self.adagrad_eps, self.intercept_lr,
                self.clip_gradient, 1e30, self._dirty)

    def predict_proba_one(self, x: dict[str, Any]) -> dict[bool, float]:
        """``{False: 1 - p, True: p}``."""
        z = self._logit(*self._encode(x))
        p = 1.0 / (1.0 + math.exp(-min(max(z, -500.0), 500.0)))
        return {False: 1.0 - p, True: p}

    def predict_one(self, x: dict[str, Any]) -> bool:
        """Most likely class."""
        return self.predict_proba_one(x)[True] > 0.5
