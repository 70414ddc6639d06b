"""OBD reader and CLI on a small generated file in the OBD layout (no dependency on /work/shared)."""

import argparse
import gzip
import json

import numpy as np

from streamrec.replay.open_bandit import empirical_action_dist, load_open_bandit, uniform_action_dist
from streamrec.shell.ope_commands import add_ope_parsers


def _write_obd(path, n=600, n_items=6, seed=0, uniform=True):
    rng = np.random.default_rng(seed)
    header = (
        ["", "timestamp", "item_id", "position", "click", "propensity_score"]
        + [f"user_feature_{j}" for j in range(2)]
        + [f"user-item_affinity_{j}" for j in range(n_items)]
    )
    rows = []
    for t in range(n):
        item = int(rng.integers(n_items)) if uniform else int(rng.choice(n_items, p=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1]))
        ps = 1 / n_items if uniform else [0.5, 0.1, 0.1, 0.1, 0.1, 0.1][item]
        click = int(rng.random() < 0.05 + 0.05 * item)
        rows.append(
            [
                str(t),
                f"2019-11-24 00:{t // 60 % 60:02d}:{t % 60:02d}+00:00",
                str(item),
                str(t % 3 + 1),
                str(click),
                str(ps),
                f"f{t % 4}",
                "g",
            ]
            + [f"{rng.random():.3f}" for _ in range(n_items)]
        )
    with gzip.open(path / "all.csv.gz", "wt") as fh:
        fh.write("\n".join(",".join(r) for r in [header] + rows) + "\n")
    (path / "item_context.csv").write_text(
        ",item_id,item_feature_0\n" + "".join(f"{i},{i},{i * 0.1}\n" for i in range(n_items))
    )


def test_reader_arrays(tmp_path):
    _write_obd(tmp_path)
    log = load_open_bandit(tmp_path)
    assert len(log) == 600 and log.n_actions == 6 and log.len_list == 3
    assert log.position.min() == 0 and set(log.position) == {0, 1, 2}
    assert log.affinity.shape == (600, 6) and log.user_features.shape == (600, 2)
    assert len(log.item_context) == 6 and np.isfinite(log.timestamp).all()
    np.testing.assert_allclose(empirical_action_dist(log).sum(axis=0), 1.0)
    np.testing.assert_allclose(uniform_action_dist(6, 3), 1 / 6)


def test_ope_cli_obd_and_streamrec(tmp_path, capsys):
    (tmp_path / "random").mkdir()
    (tmp_path / "bts").mkdir()
    _write_obd(tmp_path / "random")
    _write_obd(tmp_path / "bts", seed=1, uniform=False)
    parser = argparse.ArgumentParser()
    add_ope_parsers(parser.add_subparsers())
    common = ["ope", str(tmp_path / "random"), "--policy", "bts", "--n-bootstrap", "50", "--json"]
    fixed_args = parser.parse_args([*common, "--dm-refits", "0"])
    assert fixed_args.func(fixed_args) == 0
    fixed = json.loads(capsys.readouterr().out)["estimates"]["dm"]
    args = parser.parse_args([*common, "--dm-refits", "20"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["estimates"]) == {"ips", "snips", "dm", "dr", "replay"}
    refit = out["estimates"]["dm"]  # the reward model refitted per resample: a wider, honest interval
    assert refit["upper"] - refit["lower"] > fixed["upper"] - fixed["lower"]
    assert all(0 <= e["lower"] <= e["mean"] <= e["upper"] for k, e in out["estimates"].items() if k != "dm")
    # streamrec format: reward records from the joiner
    from streamrec.flows.reward_join import RewardJoiner

    j = RewardJoiner(window_s=10)
    rng = np.random.default_rng(0)
    recs = []
    for t in range(300):
        j.record_decision(
            f"r{t}",
            f"u{t % 7}",
            float(t),
            ["a", "b", "c"],
            [0.8, 0.15, 0.05],
            "egreedy:0.2",
            "v",
            "A" if t % 2 else "B",
            {"d": "m"},
            scores=[3.0, 2.0, 1.0],
        )
        if rng.random() < 0.3:
            recs += j.on_event(f"r{t}", f"u{t % 7}", "abc"[int(rng.integers(3))], t + 1.0, f"e{t}")
        recs += j.expire(float(t))
    recs += j.expire(1e9)
    log = tmp_path / "rewards.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\nnot json\n")
    args = parser.parse_args(["ope", str(log), "--format", "streamrec", "--policy", "greedy", "--n-bootstrap", "50"])
    assert args.func(args) == 0
    assert "ips" in capsys.readouterr().out
    args = parser.parse_args(["ab-report", str(log), "--json"])
    assert args.func(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["bad_lines"] == 1 and rep["arms"]["A"]["decisions"] + rep["arms"]["B"]["decisions"] == 300
