"""Encoded reward-model fitting equals learn_one; LoggedRounds' model terms equal the formula."""

import numpy as np

from streamrec.replay.ope.log_formats import decision_rounds
from streamrec.replay.ope.logged_rounds import stack_padded
from streamrec.replay.reward_model import RewardModel


def rows(n=300, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ctx = {"device": "md"[int(rng.integers(2))], "tags": ["a", "b"][: int(rng.integers(3))]}
        out.append((ctx, f"i{int(rng.integers(6))}", int(rng.integers(3)), float(rng.random() < 0.3)))
    return out


def test_learn_rows_on_padded_encodings_equals_learn_one_in_the_same_order():
    data = rows()
    order = np.random.default_rng(1).integers(0, len(data), 500)  # repeats, random order
    one = RewardModel(n_bits=12, init_logit=-1.0)
    for t in order:
        ctx, item, pos, y = data[t]
        one.learn_one({**ctx, "item": item, "position": pos}, y)
    enc = RewardModel(n_bits=12)
    idx, val = stack_padded([enc.encode(ctx, [item], [pos]) for ctx, item, pos, _ in data])
    assert (idx == -1).any()  # contexts of different widths were padded
    batch = RewardModel(n_bits=12, init_logit=-1.0)
    batch.learn_rows(idx, val, np.array([d[3] for d in data]), order)
    np.testing.assert_array_equal(batch.w, one.w)
    assert np.ptp(batch.w) > 0.1
    np.testing.assert_array_equal(
        batch.predict_rows(idx, val), [one.predict_one({**c, "item": i, "position": p}) for c, i, p, _ in data]
    )


def test_model_terms_are_the_policy_weighted_reward_model():
    rng = np.random.default_rng(2)
    decisions = []
    for t in range(80):
        k = int(rng.integers(2, 5))  # slates of different sizes
        decisions.append(
            {
                "items": [f"i{j}" for j in rng.choice(9, k, replace=False)],
                "propensities": list(rng.uniform(0.1, 1.0, k)),
                "scores": list(rng.normal(size=k)),
                "context": {"device": "md"[t % 2]},
                "rewards": list((rng.random(k) < 0.3).astype(float)),
            }
        )
    rounds = decision_rounds(decisions, "softmax:0.5")
    model = rounds.fit()
    v_hat, q_hat = rounds.model_terms(model)
    t = 0
    for g, d in enumerate(decisions):
        q = model.predict_grid(d["context"], d["items"], list(range(len(d["items"]))))
        for s in range(len(d["items"])):
            p = rounds.dists[g]
            assert np.isclose(v_hat[t], p[:, s] @ q[:, s]) and np.isclose(q_hat[t], q[s, s])
            assert rounds.evaluation_pscore[t] == p[s, s]
            t += 1
    assert t == len(rounds)
    sub = np.array([3, 3, 10])
    v_sub, _ = rounds.model_terms(model, sub)
    assert np.isnan(v_sub).sum() == len(rounds) - 2 and np.allclose(v_sub[sub], v_hat[sub])
