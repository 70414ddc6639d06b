"""Numba kernels of the grouped 2-way factorization machine (logistic loss).

One example is a list of active features ``(row r, value x, group g)``; groups are
A = user side (user id, context, sequence), B = item static (item id, attributes),
C = item numeric (count features). With group sums ``s_G = sum_{f in G} v_f x_f``::

    logit = w0 + sum_f w_f x_f + pairs(A) + pairs(B) + <s_A, s_B> + <s_A, s_C>
    pairs(G) = 1/2 (||s_G||^2 - sum_{f in G} x_f^2 ||v_f||^2)

i.e. every 2-way interaction except numeric x item-static and numeric x numeric ones
(with all features in group A this is Rendle's FM exactly). Gradients of the logistic
loss ``l = -y log p - (1-y) log(1-p)``, ``p = sigmoid(logit)``, with ``d = p - y``::

    dl/dw_f = d x_f
    dl/dv_f = d x_f (s_A + s_B + s_C - v_f x_f)   f in A
            = d x_f (s_A + s_B - v_f x_f)         f in B
            = d x_f s_A                           f in C

Updates are plain SGD or per-coordinate AdaGrad, with L2, clipped gradients and
parameters, and skipped when anything is non-finite. Latent updates run in float32
(the storage type of ``v``) so they vectorise; sums and the loss are float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

G_USER, G_ITEM, G_NUM = 0, 1, 2


@njit(cache=True)
def fm_group_sums(v, rows, xs, groups, n, s):
    """Fill ``s[3, k]`` with the group sums; return the within-group squares (qa, qb)."""
    k = v.shape[1]
    s[:3, :] = 0.0
    qa = 0.0
    qb = 0.0
    for t in range(n):
        r = rows[t]
        x = xs[t]
        g = groups[t]
        q = 0.0
        for f in range(k):
            vx = v[r, f] * x
            s[g, f] += vx
            q += vx * vx
        if g == 0:
            qa += q
        elif g == 1:
            qb += q
    return qa, qb


@njit(cache=True)
def fm_logit(w0, w, v, rows, xs, groups, n, s):
    """Logit of one example; leaves the group sums in ``s`` (used by ``fm_step``)."""
    qa, qb = fm_group_sums(v, rows, xs, groups, n, s)
    y = w0
    for t in range(n):
        y += w[rows[t]] * xs[t]
    k = v.shape[1]
    aa = 0.0
    bb = 0.0
    ab = 0.0
    ac = 0.0
    for f in range(k):
        aa += s[0, f] * s[0, f]
        bb += s[1, f] * s[1, f]
        ab += s[0, f] * s[1, f]
        ac += s[0, f] * s[2, f]
    return y + 0.5 * (aa - qa) + 0.5 * (bb - qb) + ab + ac


@njit(cache=True)
def log_loss(logit, label):
    """Numerically safe logistic loss of a logit."""
    z = logit if label > 0.5 else -logit
    if z > 18.0:
        return math.exp(-z)
    if z < -18.0:
        return -z
    return math.log1p(math.exp(-z))


@njit(cache=True)
def _clip(x, c):
    return c if x > c else (-c if x < -c else x)


@njit(cache=True)
def fm_step(logit, label, glob, w, v, gw, gv, rows, xs, groups, n, s,
            lr, l2w, l2v, adagrad, ada_eps, intercept_lr, clip_g, clip_p, dirty):
    """One SGD/AdaGrad step on an example whose logit and sums ``s`` were just computed.

    ``glob[0]`` is the intercept. Returns the loss, or -1 if the step was skipped.
    """
    if not math.isfinite(logit):
        return -1.0
    p = 1.0 / (1.0 + math.exp(-_clip(logit, 500.0)))
    d = _clip(p - label, clip_g)
    glob[0] = _clip(glob[0] - intercept_lr * d, clip_p)
    k = v.shape[1]
    base = s[3:6]  # s has 6 rows: group sums, then the per-group gradient bases
    for f in range(k):
        base[0, f] = s[0, f] + s[1, f] + s[2, f]
        base[1, f] = s[0, f] + s[1, f]
        base[2, f] = s[0, f]
    lr32 = np.float32(lr)
    l2v32 = np.float32(l2v)
    eps32 = np.float32(ada_eps)
    cg32 = np.float32(clip_g)
    cp32 = np.float32(clip_p)
    for t in range(n):
        r = rows[t]
        x = xs[t]
        g = groups[t]
        own = np.float32(0.0 if g == 2 else x)
        gwt = _clip(d * x + l2w * w[r], clip_g)
        if adagrad:
            gw[r] += gwt * gwt
            w[r] = _clip(w[r] - lr * gwt / math.sqrt(gw[r] + ada_eps), clip_p)
        else:
            w[r] = _clip(w[r] - lr * gwt, clip_p)
        dx = np.float32(d * x)
        bg = base[g]
        vr = v[r]
        if adagrad:
            gvr = gv[r]
            for f in range(k):
                vf = vr[f]
                gvt = min(max(dx * (np.float32(bg[f]) - vf * own) + l2v32 * vf, -cg32), cg32)
                acc = gvr[f] + gvt * gvt
                gvr[f] = acc
                vr[f] = min(max(vf - lr32 * gvt / np.sqrt(acc + eps32), -cp32), cp32)
        else:
            for f in range(k):
                vf = vr[f]
                gvt = min(max(dx * (np.float32(bg[f]) - vf * own) + l2v32 * vf, -cg32), cg32)
                vr[f] = min(max(vf - lr32 * gvt, -cp32), cp32)
        dirty[r] = True
    return log_loss(logit, label)
