"""Online reward model q(x, a, pos) = P(click | context x, item a, slot pos), for DM and DR.

Logistic regression over hashed one-hot features, trained by SGD (or, with
``adagrad=True``, per-coordinate AdaGrad) on the log loss:

    q = sigmoid(w_0 + sum_f w_f),   f in {item, position, item x position,
                                           ctx_k=v, (ctx_k=v) x item  for each context key k}
    w_f <- w_f - lr * (g + l2 * w_f),   g = q - y     (AdaGrad: divided by sqrt(sum of past squares))

Plain SGD is the default: with rare clicks, AdaGrad's first steps move every
fresh feature by a full ``lr`` on a negative and badly under-predict.

String (and bool, list-of-string) context values are one-hot categories;
int/float values are numeric features weighted by their value, so pass ids as
strings. Features hash to ``2**n_bits`` slots (CRC32, stable across processes); weights
start at 0 except the bias (``init_logit``, e.g. the log-odds of the base
rate, which matters when clicks are rare); they are clipped to ``[-clip, clip]`` and non-finite inputs are skipped, so the
parameters stay finite. ``predict_grid`` scores every (item, position) pair of
one context in one vectorised call (what DM needs).

>>> from streamrec.replay.reward_model import RewardModel
>>> m = RewardModel(n_bits=10)
>>> for _ in range(200):
...     m.learn_one({"item": "a", "position": 0, "device": "mobile"}, 1.0)
...     m.learn_one({"item": "b", "position": 0, "device": "mobile"}, 0.0)
>>> m.predict_one({"item": "a", "position": 0, "device": "mobile"}) > 0.9
True
>>> m.predict_grid({"device": "mobile"}, ["a", "b"], [0]).shape
(2, 1)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from streamrec.online.hashing import mix64

_K = np.uint64(0x9E3779B97F4A7C15)


def _h(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "replace"))


def _cross(a: np.ndarray | np.integer | int, b: np.ndarray | np.integer | int) -> np.ndarray:
    """Hash of a feature pair (vectorised, uint64 arithmetic mod 2**64)."""
    z = np.atleast_1d(np.asarray(a, np.uint64)) * _K + np.asarray(b, np.uint64)
    return mix64(z)


@njit(cache=True)
def logistic_step(
    w: np.ndarray,
    g2: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    y: float,
    lr: float,
    l2: float,
    clip: float,
    adagrad: bool,
) -> float:
    """One SGD (or AdaGrad) step of the log loss on sparse features (index -1 = padding, skipped);
    returns the prediction before it."""
    z = 0.0
    for j in range(idx.shape[0]):
        if idx[j] >= 0:
            z += w[idx[j]] * val[j]
    z = min(max(z, -35.0), 35.0)
    q = 1.0 / (1.0 + math.exp(-z))
    g = q - y
    for j in range(idx.shape[0]):
        f = idx[j]
        if f < 0:
            continue
        gf = g * val[j] + l2 * w[f]
        if adagrad:
            g2[f] += gf * gf
            w[f] -= lr * gf / math.sqrt(g2[f] + 1e-12)
        else:
            w[f] -= lr * gf
        w[f] = min(max(w[f], -clip), clip)
    return q


@njit(cache=True)
def logistic_predict_rows(w: np.ndarray, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
    """sigmoid(sum_j w[idx[r, j]] * val[r, j]) for each row r (index -1 = padding, skipped)."""
    out = np.empty(idx.shape[0])
    for r in range(idx.shape[0]):
        z = 0.0
        for j in range(idx.shape[1]):
            if idx[r, j] >= 0:
                z += w[idx[r, j]] * val[r, j]
        z = min(max(z, -35.0), 35.0)
        out[r] = 1.0 / (1.0 + math.exp(-z))
    return out


@njit(cache=True)
def logistic_fit_rows(
    w: np.ndarray,
    g2: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    lr: float,
    l2: float,
    clip: float,
    adagrad: bool,
) -> None:
    """``logistic_step`` on rows ``rows[0], rows[1], ...`` of encoded features, in that order (repeats allowed)."""
    for r in rows:
        logistic_step(w, g2, idx[r], val[r], min(max(y[r], 0.0), 1.0), lr, l2, clip, adagrad)


class RewardModel:
    """Hashed logistic regression q(x, a, pos), River-style ``learn_one`` / ``predict_one``."""

    def __init__(
        self,
        n_bits: int = 18,
        lr: float = 0.05,
        l2: float = 1e-4,
        clip: float = 20.0,
        item_key: str = "item",
        position_key: str = "position",
        cross_context: bool = True,
        init_logit: float = 0.0,
        adagrad: bool = False,
    ):
        self.n_bits = int(n_bits)
        self.mask = (1 << self.n_bits) - 1
        self.lr, self.l2, self.clip = float(lr), float(l2), float(clip)
        self.item_key, self.position_key = item_key, position_key
        self.cross_context = cross_context
        self.adagrad = bool(adagrad)
        self.w = np.zeros(1 << self.n_bits)
        self.g2 = np.zeros(1 << self.n_bits)
        self.w[0] = float(init_logit)  # the bias feature hashes to slot 0
        self.n_learned = 0

    # -- encoding ------------------------------------------------------------------------
    def _context(self, x: Mapping[str, Any]) -> tuple[list[int], list[float]]:
        keys, vals = [], []
        for k, v in x.items():
            if k in (self.item_key, self.position_key) or v is None:
                continue
            if isinstance(v, bool) or isinstance(v, str):
                keys.append(_h(f"{k}={v}"))
                vals.append(1.0)
            elif isinstance(v, (int, float)):
                f = float(v)
                if math.isfinite(f):
                    keys.append(_h(f"{k}#"))
                    vals.append(max(min(f, 1e6), -1e6))
            elif isinstance(v, (list, tuple)):
                for e in v[:64]:
                    keys.append(_h(f"{k}={e}"))
                    vals.append(1.0)
        return keys, vals

    def _rows(
        self,
        ctx_keys: list[int],
        ctx_vals: list[float],
        items: Sequence[Any] | np.ndarray,
        positions: Sequence[Any] | np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Index/value matrices [len(items) * len(positions), n_features], rows item-major."""
        ih = np.array([_h(f"i={a}") for a in items], np.uint64)
        ph = np.array([_h(f"p={p}") for p in positions], np.uint64)
        na, npos = len(ih), len(ph)
        ia = np.repeat(ih, npos)
        pa = np.tile(ph, na)
        cols = [np.zeros(na * npos, np.uint64), ia, pa, _cross(ia, pa)]
        vals = [np.ones(na * npos)] * 4
        for c, v in zip(ctx_keys, ctx_vals):
            cols.append(np.full(na * npos, c, np.uint64))
            vals.append(np.full(na * npos, v))
            if self.cross_context:
                cols.append(_cross(np.uint64(c), ia))
                vals.append(np.full(na * npos, v))
        idx = (np.stack(cols, axis=1) & np.uint64(self.mask)).astype(np.int64)
        return idx, np.stack(vals, axis=1)

    def encode(
        self, context: Mapping[str, Any], items: Sequence[Any] | np.ndarray, positions: Sequence[Any] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows of every (item, position) of one context, item-major: (index, value) matrices.

        They depend on the settings (``n_bits``, ``cross_context``), not on the weights, so a log
        encoded once serves every refit (:meth:`learn_rows`, :meth:`predict_rows`)."""
        ck, cv = self._context(context)
        return self._rows(ck, cv, items, positions)

    def learn_rows(self, idx: np.ndarray, val: np.ndarray, y: np.ndarray, rows: np.ndarray) -> None:
        """:meth:`learn_one` on encoded rows ``rows`` (in that order) with labels ``y[rows]``; -1 pads.
        Rows with a non-finite label are skipped, as in :meth:`learn_one`."""
        y = np.asarray(y, np.float64)
        rows = np.asarray(rows, np.int64)
        rows = rows[np.isfinite(y[rows])]
        logistic_fit_rows(self.w, self.g2, idx, val, y, rows, self.lr, self.l2, self.clip, self.adagrad)
        self.n_learned += len(rows)

    def predict_rows(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        """q of each encoded row."""
        return logistic_predict_rows(self.w, idx, val)

    # -- River-style API -----------------------------------------------------------------
    def learn_one(self, x: Mapping[str, Any], y: float) -> None:
        """One AdaGrad step on features of ``x`` (which holds item and position) with label y in [0, 1]."""
        y = float(y)
        if not math.isfinite(y):
            return
        ck, cv = self._context(x)
        idx, val = self._rows(ck, cv, [x.get(self.item_key)], [x.get(self.position_key)])
        logistic_step(self.w, self.g2, idx[0], val[0], min(max(y, 0.0), 1.0), self.lr, self.l2, self.clip, self.adagrad)
        self.n_learned += 1

    def predict_one(self, x: Mapping[str, Any]) -> float:
        """q(x, item, position) in (0, 1)."""
        return float(self.predict_grid(x, [x.get(self.item_key)], [x.get(self.position_key)])[0, 0])

    def predict_grid(
        self, context: Mapping[str, Any], items: Sequence[Any] | np.ndarray, positions: Sequence[Any] | np.ndarray
    ) -> np.ndarray:
        """q for every (item, position) of one context: array [len(items), len(positions)]."""
        ck, cv = self._context(context)
        idx, val = self._rows(ck, cv, items, positions)
        return logistic_predict_rows(self.w, idx, val).reshape(len(items), len(positions))
