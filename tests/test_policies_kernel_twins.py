"""Each Numba kernel against a pure-Python/numpy twin (twins live only here)."""

import math

import numpy as np

from streamrec.online.policies.gaussian_kernels import gaussian_topk_draw
from streamrec.online.policies.sampling import (
    epsilon_greedy_draw,
    plackett_luce_draw,
    splitmix_normal,
    splitmix_uniform,
)
from streamrec.replay.reward_model import logistic_step

M64 = (1 << 64) - 1
G = 0x9E3779B97F4A7C15


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def twin_uniform(seed, c):  # online.hashing.counter_uniform(seed, c, 0)
    inner = _mix((c * G + G) & M64)
    return (_mix(((seed ^ inner) + G) & M64) >> 11) / 2.0**53


def twin_normal(seed, c):
    u1, u2 = max(twin_uniform(seed, 2 * c), 1e-300), twin_uniform(seed, 2 * c + 1)
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def twin_egreedy(n, k, eps, seed):
    left, out = list(range(n)), []
    for s in range(min(k, n)):
        if twin_uniform(seed, 2 * s) < eps:
            j = left[min(int(twin_uniform(seed, 2 * s + 1) * (n - s)), n - s - 1)]
        else:
            j = left[0]
        left.remove(j)
        out.append(j)
    return out


def twin_pl(p, k, seed):
    p, taken, out = list(p), set(), []
    for s in range(min(k, len(p))):
        rest = [i for i in range(len(p)) if i not in taken]
        u = twin_uniform(seed, s) * (sum(p) - sum(p[i] for i in taken))
        cum = np.cumsum([p[i] for i in rest])
        pick = rest[min(int(np.searchsorted(cum, u, side="right")), len(rest) - 1)]
        taken.add(pick)
        out.append(pick)
    return out


def test_rng_twins():
    for seed in (0, 1, 2**62 + 7):
        for c in range(20):
            assert splitmix_uniform(seed, c) == twin_uniform(seed, c)
            assert abs(splitmix_normal(seed, c) - twin_normal(seed, c)) < 1e-12


def test_draw_kernels_match_twins():
    rng = np.random.default_rng(0)
    for seed in range(200):
        assert epsilon_greedy_draw(9, 4, 0.4, seed).tolist() == twin_egreedy(9, 4, 0.4, seed)
        p = rng.dirichlet(np.ones(6))
        assert plackett_luce_draw(p, 3, seed).tolist() == twin_pl(p, 3, seed)
        mu, sig = rng.normal(size=6), rng.random(6)
        theta = np.array([mu[i] + sig[i] * twin_normal(seed, i) for i in range(6)])
        assert gaussian_topk_draw(mu, sig, 3, seed).tolist() == np.argsort(-theta, kind="stable")[:3].tolist()


def test_logistic_step_matches_twin():
    rng = np.random.default_rng(1)
    idx, val = np.array([0, 3, 7]), np.array([1.0, 0.5, -2.0])
    for adagrad in (False, True):
        w, g2 = rng.normal(size=16), np.zeros(16)
        w2, g2_twin = w.copy(), np.zeros(16)
        for y in (1.0, 0.0, 1.0):
            logistic_step(w, g2, idx, val, y, 0.1, 0.01, 20.0, adagrad)
            q = 1 / (1 + math.exp(-float(np.clip(w2[idx] @ val, -35, 35))))
            grad = (q - y) * val + 0.01 * w2[idx]
            if adagrad:
                g2_twin[idx] += grad**2
                grad = grad / np.sqrt(g2_twin[idx] + 1e-12)
            w2[idx] = np.clip(w2[idx] - 0.1 * grad, -20, 20)
            np.testing.assert_allclose(w, w2, atol=1e-12)
