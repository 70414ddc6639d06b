"""Numba kernel of one FM step on an event: a positive and its sampled negatives.

All examples of an event share the user side A (user id, context, sequence); example
``e`` adds its item side (B_e static rows, C_e numeric rows). The step descends the summed
logistic loss ``L = sum_e l(logit_e, y_e)`` with every gradient taken at the current
parameters (see ``online.fm_kernels`` for the model); the user rows are updated once::

    dL/dv_f = x_f ((sum_e d_e)(s_A - v_f x_f) + sum_e d_e (s_B,e + s_C,e)),  f in A
    dl_e/dv_f = d_e x_f (s_A + s_B,e - v_f x_f),  f in B_e;   d_e x_f s_A,  f in C_e

with ``d_e = sigmoid(logit_e) - y_e``: about 40% fewer row updates than stepping on each
example in turn, and the same fixed point.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from streamrec.online.fm_kernels import _clip, fm_group_sums, log_loss


@njit(cache=True)
def fm_multi_step(labels, n_ex, ex_ptr, rows, xs, groups, n_user, glob, w, v, gw, gv, s,
                  lr, l2w, l2v, adagrad, ada_eps, intercept_lr, clip_g, clip_p, dirty, losses):
    """One step on the summed loss of ``n_ex`` examples sharing the user side.

    Rows ``0..n_user-1`` are the shared user side (group A); example ``e`` adds rows
    ``ex_ptr[e]..ex_ptr[e+1]-1`` (groups B, C). All gradients are taken at the current
    parameters; with ``d_e = p_e - y_e`` a user row gets
    ``dl/dv_f = x_f ((sum_e d_e)(s_A - v_f x_f) + sum_e d_e (s_B,e + s_C,e))``.
    ``losses[e]`` receives each example's loss (-1 when skipped as non-finite).
    """
    k = v.shape[1]
    # shared user side: s[0] = s_A, user-only terms in ``uconst``
    qa, _ = fm_group_sums(v, rows, xs, groups, n_user, s)
    uconst = glob[0] - 0.0
    for t in range(n_user):
        uconst += w[rows[t]] * xs[t]
    aa = 0.0
    for f in range(k):
        aa += s[0, f] * s[0, f]
    uconst += 0.5 * (aa - qa)
    acc_d = 0.0
    acc = s[3]  # sum_e d_e (s_B,e + s_C,e)
    acc[:] = 0.0
    sb = s[4]
    sc_ = s[5]
    ds = np.zeros(n_ex)
    for e in range(n_ex):
        sb[:] = 0.0
        sc_[:] = 0.0
        qb = 0.0
        y = uconst
        for t in range(ex_ptr[e], ex_ptr[e + 1]):
            r = rows[t]
            x = xs[t]
            y += w[r] * x
            q = 0.0
            for f in range(k):
                vx = v[r, f] * x
                if groups[t] == 1:
                    sb[f] += vx
                else:
                    sc_[f] += vx
                q += vx * vx
            if groups[t] == 1:
                qb += q
        bb = 0.0
        cross = 0.0
        for f in range(k):
            bb += sb[f] * sb[f]
            cross += s[0, f] * (sb[f] + sc_[f])
        y += 0.5 * (bb - qb) + cross
        if not math.isfinite(y):
            losses[e] = -1.0
            continue
        losses[e] = log_loss(y, labels[e])
        p = 1.0 / (1.0 + math.exp(-_clip(y, 500.0)))
        d = _clip(p - labels[e], clip_g)
        ds[e] = d
        acc_d += d
        for f in range(k):
            acc[f] += d * (sb[f] + sc_[f])
        # item side of example e: gradient wrt v_f is d x_f (s_A + s_B - v_f x_f) (B) or d x_f s_A (C)
        for t in range(ex_ptr[e], ex_ptr[e + 1]):
            r = rows[t]
            x = xs[t]
            g = groups[t]
            gwt = _clip(d * x + l2w * w[r], clip_g)
            if adagrad:
                gw[r] += gwt * gwt
                w[r] = _clip(w[r] - lr * gwt / math.sqrt(gw[r] + ada_eps), clip_p)
            else:
                w[r] = _clip(w[r] - lr * gwt, clip_p)
            _update_latent(v[r], gv[r], s[0], sb, g == 1, np.float32(d * x), x, lr, l2v,
                           adagrad, ada_eps, clip_g, clip_p)
            dirty[r] = True
    glob[0] = _clip(glob[0] - intercept_lr * acc_d, clip_p)
    # shared user side, once
    for t in range(n_user):
        r = rows[t]
        x = xs[t]
        gwt = _clip(acc_d * x + l2w * w[r], clip_g)
        if adagrad:
            gw[r] += gwt * gwt
            w[r] = _clip(w[r] - lr * gwt / math.sqrt(gw[r] + ada_eps), clip_p)
        else:
            w[r] = _clip(w[r] - lr * gwt, clip_p)
        vr = v[r]
        gvr = gv[r]
        for f in range(k):
            vf = vr[f]
            gvt = _clip(x * (acc_d * (s[0, f] - vf * x) + acc[f]) + l2v * vf, clip_g)
            if adagrad:
                a2 = gvr[f] + gvt * gvt
                gvr[f] = a2
                vr[f] = _clip(vf - lr * gvt / math.sqrt(a2 + ada_eps), clip_p)
            else:
                vr[f] = _clip(vf - lr * gvt, clip_p)
        dirty[r] = True
    return ds


@njit(cache=True)
def _update_latent(vr, gvr, sa, sb, with_b, dx, x, lr, l2v, adagrad, ada_eps, clip_g, clip_p):
    """v_f -= step(dx * (s_A [+ s_B - v_f x]) + l2 v_f) in float32 (vectorisable)."""
    k = vr.shape[0]
    own = np.float32(x if with_b else 0.0)
    wb = np.float32(1.0 if with_b else 0.0)
    lr32 = np.float32(lr)
    l2v32 = np.float32(l2v)
    eps32 = np.float32(ada_eps)
    cg32 = np.float32(clip_g)
    cp32 = np.float32(clip_p)
    for f in range(k):
        vf = vr[f]
        base = np.float32(sa[f]) + wb * np.float32(sb[f]) - vf * own
        gvt = min(max(dx * base + l2v32 * vf, -cg32), cg32)
        if adagrad:
            a2 = gvr[f] + gvt * gvt
            gvr[f] = a2
            vr[f] = min(max(vf - lr32 * gvt / np.sqrt(a2 + eps32), -cp32), cp32)
        else:
            vr[f] = min(max(vf - lr32 * gvt, -cp32), cp32)
