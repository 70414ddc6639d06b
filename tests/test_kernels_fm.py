"""FM kernels against a pure-numpy twin and against finite differences.

Every step goes through ``fm_multi_step``, the kernel the engine runs on each event (a
single example is the case ``n_ex = 1``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamrec.online.engine_state import Fm
from streamrec.online.fm_event_step import fm_multi_step
from streamrec.online.fm_kernels import fm_logit
from streamrec.online.hyper import FmStep
from streamrec.online.scratch import Examples

ALLOWED = {(0, 0), (1, 1), (0, 1), (1, 0), (0, 2), (2, 0)}


def logit_twin(w0, w, v, rows, xs, groups):
    """Brute-force grouped FM logit: every allowed pair explicitly."""
    y = w0 + sum(float(w[r]) * x for r, x in zip(rows, xs))
    n = len(rows)
    for a in range(n):
        for b in range(a + 1, n):
            if (groups[a], groups[b]) in ALLOWED:
                y += float(np.dot(v[rows[a]].astype(np.float64), v[rows[b]])) * xs[a] * xs[b]
    return y


def loss_twin(w0, w, v, rows, xs, groups, label):
    z = logit_twin(w0, w, v, rows, xs, groups)
    p = 1 / (1 + math.exp(-z))
    return -(label * math.log(p) + (1 - label) * math.log(1 - p))


def example(seed, n=7, n_rows=40, k=5):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.3, n_rows).astype(np.float32)  # the engine's storage type
    v = rng.normal(0, 0.3, (n_rows, k)).astype(np.float32)
    rows = rng.choice(n_rows, n, replace=False).astype(np.int64)
    xs = rng.uniform(0.5, 2.0, n)
    groups = rng.integers(0, 3, n).astype(np.int8)
    return w, v, rows, xs, groups


def one_step(w0, w, v, gw, gv, rows, xs, groups, label, opt):
    """One engine step on a single example (user-side rows first); returns (w0, loss)."""
    order = np.argsort(groups, kind="stable")
    rows, xs, groups = rows[order], xs[order], groups[order]
    n_user = int((groups == 0).sum())
    fm = Fm(np.array([w0], np.float64), w, v, gw, gv, np.zeros(len(w), np.bool_))
    ex = Examples(
        rows,
        xs,
        groups,
        np.array([n_user, len(rows)]),
        np.array([label]),
        np.zeros(1),
        np.zeros((6, v.shape[1])),
        np.zeros(v.shape[1], np.float32),
    )
    fm_multi_step(fm, opt, ex, 1, n_user)
    return fm.w0[0], ex.loss[0]


@pytest.mark.parametrize("seed", range(5))
def test_logit_matches_twin(seed):
    w, v, rows, xs, groups = example(seed)
    got = fm_logit(0.3, w, v, rows, xs, groups, len(rows), np.zeros((6, v.shape[1])))
    assert got == pytest.approx(logit_twin(0.3, w, v, rows, xs, groups), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_gradient_matches_finite_differences(seed, label):
    w, v, rows, xs, groups = example(seed)
    n, k = len(rows), v.shape[1]
    w, v = w.astype(np.float64), v.astype(np.float64)  # finite differences need float64
    w2, v2 = w.astype(np.float32), v.astype(np.float32)
    # plain SGD with lr = 1 and no L2: new = old - grad
    w0, _ = one_step(
        0.1,
        w2,
        v2,
        np.zeros_like(w2),
        np.zeros_like(v2),
        rows,
        xs,
        groups,
        label,
        FmStep(1.0, 0.0, 0.0, False, 1e-8, 1.0, 1e12, 1e12),
    )
    eps = 1e-6
    for t in range(n):
        r = rows[t]
        wp, wm = w.copy(), w.copy()
        wp[r] += eps
        wm[r] -= eps
        fd = (loss_twin(0.1, wp, v, rows, xs, groups, label) - loss_twin(0.1, wm, v, rows, xs, groups, label)) / (
            2 * eps
        )
        assert w[r] - w2[r] == pytest.approx(fd, rel=1e-4, abs=2e-6)
        for f in range(k):
            vp, vm = v.copy(), v.copy()
            vp[r, f] += eps
            vm[r, f] -= eps
            fd = (loss_twin(0.1, w, vp, rows, xs, groups, label) - loss_twin(0.1, w, vm, rows, xs, groups, label)) / (
                2 * eps
            )
            assert v[r, f] - v2[r, f] == pytest.approx(fd, rel=1e-4, abs=2e-6)
    fd0 = (
        loss_twin(0.1 + eps, w, v, rows, xs, groups, label) - loss_twin(0.1 - eps, w, v, rows, xs, groups, label)
    ) / (2 * eps)
    assert 0.1 - w0 == pytest.approx(fd0, rel=1e-5, abs=1e-7)


def adagrad_twin(w0, w, v, gw, gv, rows, xs, groups, label, lr, l2w, l2v, eps):
    """Numpy twin of one AdaGrad step (vectorised over factors)."""
    s = np.zeros((6, v.shape[1]))
    for r, x, g in zip(rows, xs, groups):
        s[g] += v[r] * x
    z = logit_twin(w0, w, v, rows, xs, groups)
    d = 1 / (1 + math.exp(-z)) - label
    base = {0: s[0] + s[1] + s[2], 1: s[0] + s[1], 2: s[0]}
    w, v, gw, gv = w.copy(), v.copy(), gw.copy(), gv.copy()
    for r, x, g in zip(rows, xs, groups):
        gwt = d * x + l2w * w[r]
        gw[r] += gwt**2
        w[r] -= lr * gwt / np.sqrt(gw[r] + eps)
        own = 0.0 if g == 2 else x
        gvt = d * x * (base[g] - v[r] * own) + l2v * v[r]
        gv[r] += gvt**2
        v[r] -= lr * gvt / np.sqrt(gv[r] + eps)
    return w, v


def test_adagrad_step_matches_twin():
    w, v, rows, xs, groups = example(11)
    gw, gv = np.full_like(w, 0.2), np.full_like(v, 0.3)
    v_init = v.copy()
    tw, tv = adagrad_twin(
        0.0,
        w.astype(np.float64),
        v.astype(np.float64),
        gw.astype(np.float64),
        gv.astype(np.float64),
        rows,
        xs,
        groups,
        1.0,
        0.1,
        0.01,
        0.02,
        0.1,
    )
    one_step(
        0.0,
        w,
        v,
        gw,
        gv,
        rows,
        xs,
        groups,
        1.0,
        FmStep(0.1, 0.01, 0.02, True, 0.1, 0.0, 1e12, 1e12),
    )
    np.testing.assert_allclose(w, tw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, tv, rtol=1e-5, atol=1e-6)
    assert np.abs(v[rows] - v_init[rows]).max() > 1e-3  # the step did move the latents


def test_step_skips_non_finite_and_clips():
    w, v, rows, xs, groups = example(3)
    before = (w.copy(), v.copy())
    opt = FmStep(1e6, 0.0, 0.0, False, 1e-8, 0.0, 1.0, 5.0)
    gw, gv = np.zeros_like(w), np.zeros_like(v)
    assert one_step(np.nan, w, v, gw, gv, rows, xs, groups, 1.0, opt)[1] == -1.0  # skipped
    np.testing.assert_array_equal(w, before[0])
    np.testing.assert_array_equal(v, before[1])
    assert one_step(1e300, w, v, gw, gv, rows, xs, groups, 0.0, opt)[1] > 0
    assert np.all(np.abs(w) <= 5.0) and np.all(np.abs(v) <= 5.0) and np.all(np.isfinite(v))


def multi_loss_twin(w0, w, v, rows, xs, groups, n_user, ex_ptr, labels, bpr=0.0):
    """Summed logistic loss plus ``bpr * sum_n log(1 + exp(y_n - y_0))`` (example 0 the positive)."""
    total = 0.0
    logits = []
    for e in range(len(labels)):
        sel = list(range(n_user)) + list(range(ex_ptr[e], ex_ptr[e + 1]))
        total += loss_twin(w0, w, v, rows[sel], xs[sel], groups[sel], labels[e])
        logits.append(logit_twin(w0, w, v, rows[sel], xs[sel], groups[sel]))
    return total + bpr * sum(math.log1p(math.exp(y - logits[0])) for y in logits[1:])


def multi_example(seed, k=4, n_rows=60):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.3, n_rows)
    v = rng.normal(0, 0.3, (n_rows, k))
    rows = rng.choice(n_rows, 14, replace=False).astype(np.int64)  # disjoint rows
    xs = rng.uniform(0.5, 2.0, 14)
    groups = np.array([0] * 4 + [1, 1, 2] + [1, 2, 2] + [1, 1, 1, 2], np.int8)
    ex_ptr = np.array([4, 7, 10, 14])
    return w, v, rows, xs, groups, ex_ptr, np.array([1.0, 0.0, 0.0])


@pytest.mark.parametrize(("seed", "bpr"), [(0, 0.0), (1, 0.0), (2, 0.0), (0, 0.7), (1, 1.5)])
def test_multi_step_gradient_matches_finite_differences(seed, bpr):
    w, v, rows, xs, groups, ex_ptr, labels = multi_example(seed)
    w2, v2 = w.astype(np.float32), v.astype(np.float32)
    fm = Fm(
        np.array([0.2]),
        w2,
        v2,
        np.zeros_like(w2),
        np.zeros_like(v2),
        np.zeros(len(w), np.bool_),
    )
    ex = Examples(
        rows, xs, groups, ex_ptr, labels, np.zeros(3), np.zeros((6, v.shape[1])), np.zeros(v.shape[1], np.float32)
    )
    fm_multi_step(fm, FmStep(1.0, 0.0, 0.0, False, 1e-8, 1.0, 1e12, 1e12, bpr), ex, 3, 4)
    losses, glob = ex.loss, fm.w0
    for e in range(3):
        sel = list(range(4)) + list(range(ex_ptr[e], ex_ptr[e + 1]))
        assert losses[e] == pytest.approx(loss_twin(0.2, w, v, rows[sel], xs[sel], groups[sel], labels[e]), rel=1e-5)
    eps = 1e-6

    def f(w_, v_, b=0.2):
        return multi_loss_twin(b, w_, v_, rows, xs, groups, 4, ex_ptr, labels, bpr)

    for r in rows:
        wp, wm = w.copy(), w.copy()
        wp[r] += eps
        wm[r] -= eps
        assert w[r] - w2[r] == pytest.approx((f(wp, v) - f(wm, v)) / (2 * eps), rel=1e-4, abs=2e-6)
        for c in range(v.shape[1]):
            vp, vm = v.copy(), v.copy()
            vp[r, c] += eps
            vm[r, c] -= eps
            assert v[r, c] - v2[r, c] == pytest.approx((f(w, vp) - f(w, vm)) / (2 * eps), rel=1e-4, abs=2e-6)
    assert 0.2 - glob[0] == pytest.approx((f(w, v, 0.2 + eps) - f(w, v, 0.2 - eps)) / (2 * eps), rel=1e-4)
