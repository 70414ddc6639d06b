"""A River-style factorization machine classifier over hashed features.

    logit(x) = w0 + sum_j w_j x_j + sum_{j < j'} <v_j, v_j'> x_j x_j'
    p(y = 1 | x) = sigmoid(logit(x))

String values are one-hot encoded as ``"{name}_{value}"`` (River's convention), numbers
are used as they are; names are hashed into ``n_buckets`` rows. Learning minimises the
logistic loss by SGD or per-coordinate AdaGrad with L2 with the very kernel the engine
runs on each event (``online.fm_event_step.fm_multi_step``, one example: the first
feature is the "user side", the others the "item side", which together make Rendle's FM
exactly), so this estimator is the engine's FM on its own, checked against ``river.facto``.

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

from streamrec.online.engine_state import Fm, init_fm
from streamrec.online.fm_event_step import fm_multi_step
from streamrec.online.fm_kernels import fm_logit
from streamrec.online.hashing import FeatureHasher
from streamrec.online.hyper import FmStep
from streamrec.online.scratch import new_examples


class FMClassifier:
    """Binary FM; ``learn_one(x, y)``, ``predict_proba_one(x)``, ``predict_one(x)``."""

    def __init__(
        self,
        n_factors: int = 8,
        n_buckets: int = 1 << 16,
        lr: float = 0.05,
        optimizer: str = "sgd",
        l2_weight: float = 0.0,
        l2_latent: float = 0.0,
        intercept_lr: float = 0.01,
        init_std: float = 0.1,
        clip_gradient: float = 1e12,
        adagrad_eps: float = 1e-8,
        seed: int = 42,
    ) -> None:
        self.opt = FmStep(
            float(lr),
            float(l2_weight),
            float(l2_latent),
            optimizer == "adagrad",
            float(adagrad_eps),
            float(intercept_lr),
            float(clip_gradient),
            1e30,
        )
        self.hasher = FeatureHasher(n_buckets)
        self.w, self.v = init_fm(n_buckets, n_factors, init_std, seed)
        self.v[:] = np.random.default_rng(seed).standard_normal(self.v.shape) * init_std
        self.fm = Fm(
            np.zeros(1),
            self.w,
            self.v,
            np.zeros_like(self.w),
            np.zeros_like(self.v),
            np.zeros(n_buckets, np.bool_),
        )
        self._ex = new_examples(0, 1, n_factors)

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
        grp = np.ones(n, np.int8)
        grp[:1] = 0  # first feature: user side (group A); the others: item side (group B)
        return np.asarray(rows, np.int64), np.asarray(xs, np.float64), grp, n

    def _logit(self, rows, xs, grp, n) -> float:
        return fm_logit(self.fm.w0[0], self.w, self.v, rows, xs, grp, n, self._ex.s)

    def learn_one(self, x: dict[str, Any], y: bool) -> None:
        """One gradient step on the logistic loss of ``(x, y)``."""
        rows, xs, grp, n = self._encode(x)
        ex = self._ex._replace(rows=rows, xs=xs, grp=grp)
        ex.ptr[:] = (min(n, 1), n)
        ex.labels[0] = 1.0 if y else 0.0
        fm_multi_step(self.fm, self.opt, ex, 1, min(n, 1))

    def predict_proba_one(self, x: dict[str, Any]) -> dict[bool, float]:
        """``{False: 1 - p, True: p}``."""
        z = self._logit(*self._encode(x))
        p = 1.0 / (1.0 + math.exp(-min(max(z, -500.0), 500.0)))
        return {False: 1.0 - p, True: p}

    def predict_one(self, x: dict[str, Any]) -> bool:
        """Most likely class."""
        return self.predict_proba_one(x)[True] > 0.5
