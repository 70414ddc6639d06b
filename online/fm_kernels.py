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

Updates (``weight_step``, ``latent_step``) are plain SGD or per-coordinate AdaGrad, with
L2, clipped gradients and parameters, and skipped when anything is non-finite. The step
itself, on one event's examples, is ``online.fm_event_step.fm_multi_step``.
"""

from __future__ import annotations

import math

import numpy as np

from streamrec.online.jit import kernel

G_USER, G_ITEM, G_NUM = 0, 1, 2


@kernel()
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


@kernel()
def fm_logit(w0, w, v, rows, xs, groups, n, s):
    """Logit of one example; leaves the group sums in ``s``."""
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


@kernel()
def log_loss(logit, label):
    """Numerically safe logistic loss of a logit."""
    z = logit if label > 0.5 else -logit
    if z > 18.0:
        return math.exp(-z)
    if z < -18.0:
        return -z
    return math.log1p(math.exp(-z))


@kernel()
def clip(x, c):
    """``x`` clipped to ``[-c, c]`` (in the type of its arguments)."""
    return c if x > c else (-c if x < -c else x)  # noqa: FURB136 (selects: NaN passes through)


@kernel(inline="always")
def weight_step(w, gw, r, g, opt):
    """``w_r -= step(clip(g + l2w w_r))`` by SGD or AdaGrad (``gw_r`` gains the square)."""
    gwt = clip(g + opt.l2w * w[r], opt.clip_g)
    if opt.adagrad:
        gw[r] += gwt * gwt
        w[r] = clip(w[r] - opt.lr * gwt / math.sqrt(gw[r] + opt.ada_eps), opt.clip_p)
    else:
        w[r] = clip(w[r] - opt.lr * gwt, opt.clip_p)


@kernel(inline="always")
def latent_step(vr, gvr, grad, l2v, lr, eps, clip_g, clip_p, adagrad):
    """The latent update: ``v_f -= step(clip(grad_f + l2v v_f))`` for every factor ``f``, by
    SGD or AdaGrad (``gvr_f`` gains the square). The arithmetic runs in the type of the
    arguments: float32 for item rows (vectorises), float64 for the shared user rows."""
    for f in range(vr.shape[0]):
        vf = vr[f]
        gvt = min(max(grad[f] + l2v * vf, -clip_g), clip_g)
        if adagrad:
            a2 = gvr[f] + gvt * gvt
            gvr[f] = a2
            vr[f] = min(max(vf - lr * gvt / np.sqrt(a2 + eps), -clip_p), clip_p)
        else:
            vr[f] = min(max(vf - lr * gvt, -clip_p), clip_p)
