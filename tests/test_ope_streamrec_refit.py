"""``streamrec ope --format streamrec``: DM's interval refits the reward model per resample.

A simulated log with known click probabilities: a softmax logging policy draws 3-item slates
from 8 items, clicks follow a logistic CTR in (context, item, slot), the RewardJoiner writes
the reward records. The evaluation policy ``greedy`` re-orders each logged slate by its
logged scores, so its true value per impression is exact from the simulator.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from streamrec.flows.reward_join import RewardJoiner
from streamrec.online.policies import make_policy
from streamrec.shell.ope_commands import add_ope_parsers

ITEMS = np.array([f"i{j}" for j in range(8)], dtype=object)
SLOTS = 3


def simulated_log(path, n_decisions=1500, seed=0):
    """Write reward records; return the true per-impression value of ``greedy`` on the logged slates."""
    rng = np.random.default_rng(seed)
    item_effect = rng.normal(0.0, 0.7, len(ITEMS))
    ctx_effect = {"m": rng.normal(0.0, 0.5, len(ITEMS)), "d": rng.normal(0.0, 0.5, len(ITEMS))}
    slot_effect = np.array([0.0, -0.5, -1.0])

    def ctr(device, j, s):
        return 1 / (1 + np.exp(-(-1.2 + item_effect[j] + ctx_effect[device][j] + slot_effect[s])))

    logging = make_policy("softmax:0.5")
    joiner, records, truth = RewardJoiner(window_s=10), [], []
    for t in range(n_decisions):
        device = "md"[int(rng.integers(2))]
        scores = item_effect + rng.normal(0.0, 0.5, len(ITEMS))  # an imperfect model's scores
        slate = logging.select(ITEMS, scores, SLOTS, seed=int(rng.integers(2**62)))
        idx = [int(str(i)[1:]) for i in slate.items]
        joiner.record_decision(
            f"r{t}",
            f"u{t % 50}",
            float(t),
            list(slate.items),
            list(slate.propensities),
            "softmax:0.5",
            "v1",
            context={"device": device},
            scores=list(slate.scores),
        )
        for s, j in enumerate(idx):
            if rng.random() < ctr(device, j, s):
                records += joiner.on_event(f"r{t}", f"u{t % 50}", ITEMS[j], t + 0.5, f"e{t}-{s}")
        records += joiner.expire(float(t))
        greedy = [idx[k] for k in np.argsort(-np.asarray(slate.scores), kind="stable")]
        truth += [ctr(device, j, s) for s, j in enumerate(greedy)]
    records += joiner.expire(1e12)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return float(np.mean(truth))


def ope(log, *flags):
    parser = argparse.ArgumentParser()
    add_ope_parsers(parser.add_subparsers())
    args = parser.parse_args(["ope", str(log), "--format", "streamrec", "--json", *flags])
    return args


def test_dm_interval_refits_the_model_and_contains_the_truth(tmp_path, capsys):
    log = tmp_path / "rewards.jsonl"
    truth = simulated_log(log)
    common = ["--policy", "greedy", "--n-bootstrap", "200"]
    args = ope(log, *common, "--dm-refits", "0")
    assert args.func(args) == 0
    fixed = json.loads(capsys.readouterr().out)["estimates"]["dm"]
    args = ope(log, *common, "--dm-refits", "40")
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    refit = out["estimates"]["dm"]
    assert refit["mean"] == fixed["mean"]  # same model on all rounds; only the interval changes
    assert refit["upper"] - refit["lower"] > 2 * (fixed["upper"] - fixed["lower"])
    assert refit["lower"] <= truth <= refit["upper"], (truth, refit)
    assert out["logged_value"] != truth  # the target policy is not the logging one
