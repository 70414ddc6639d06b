"""Versions (snapshot/list/rollback), epoch tokens, the `model` CLI, disk size."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from streamrec.online.model_state import ModelState
from streamrec.shell.model_commands import add_model_parsers
from streamrec.shell.usage_checks import UsageError
from streamrec.state.disk import state_size_bytes
from streamrec.state.epochs import commit_epoch, list_epochs, restore_epoch
from streamrec.state.store import ParamStore
from streamrec.state.versions import current_version, list_versions, rollback, snapshot


def make_state(seed: int, n: int = 500) -> ModelState:
    rng = np.random.default_rng(seed)
    return ModelState(
        {"v": rng.normal(size=(n, 16)).astype(np.float32), "w": rng.normal(size=n)},
        {"items": [f"i{j}" for j in range(n)]},
        {"events_learned": seed * 100, "seed": seed},
    )


def same(a: ModelState, b: ModelState) -> bool:
    return (
        a.arrays.keys() == b.arrays.keys()
        and all(
            a.arrays[k].dtype == b.arrays[k].dtype and a.arrays[k].tobytes() == b.arrays[k].tobytes() for k in a.arrays
        )
        and a.vocab == b.vocab
        and a.meta == b.meta
    )


def mutate(s: ModelState, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = np.unique(rng.integers(0, s.arrays["v"].shape[0], size=20))
    s.arrays["v"][rows] += 1.0
    s.arrays["w"][rows] -= 1.0
    s.meta["events_learned"] += 1
    return {"v": rows, "w": rows}


def test_snapshot_list_rollback_round_trip(tmp_path):
    s1 = make_state(1)
    with ParamStore(tmp_path) as store:
        store.save(s1)
    v1 = snapshot(tmp_path, label="first")
    with ParamStore(tmp_path) as store:
        s2 = make_state(2)
        store.save(s2)
        v2 = snapshot(tmp_path)  # store open here: snapshot exports a read-only view
    assert v1 < v2 and v1.startswith("v0001-") and v2.startswith("v0002-")
    listed = list_versions(tmp_path)
    assert [v["id"] for v in listed] == [v1, v2]
    assert listed[0]["label"] == "first" and listed[0]["events_learned"] == 100
    assert current_version(tmp_path) == v2
    rollback(tmp_path, v1)
    assert current_version(tmp_path) == v1
    with ParamStore(tmp_path) as store:
        assert same(store.load(), s1)
        store.save(make_state(3))  # the store keeps working after a rollback
    rollback(tmp_path, v2)
    with ParamStore(tmp_path) as store:
        assert same(store.load(), s2)


def test_identical_content_gets_the_same_hash_part(tmp_path):
    with ParamStore(tmp_path) as store:
        store.save(make_state(4))
    a, b = snapshot(tmp_path), snapshot(tmp_path)
    assert a != b and a.split("-")[1] == b.split("-")[1]


def test_rollback_refused_while_open_or_unknown(tmp_path):
    with ParamStore(tmp_path) as store:
        store.save(make_state(5))
    vid = snapshot(tmp_path)
    with ParamStore(tmp_path):
        with pytest.raises(RuntimeError):
            rollback(tmp_path, vid)
    with pytest.raises(ValueError):
        rollback(tmp_path, "../../etc")
    with pytest.raises(KeyError):
        rollback(tmp_path, "v9999-00000000")


def test_epoch_tokens_restore_each_committed_state(tmp_path):
    s = make_state(6)
    expected, tokens = [], []
    with ParamStore(tmp_path) as store:
        for e in range(5):
            dirty = None if e == 0 else mutate(s, e)
            tokens.append(commit_epoch(store, s, dirty, keep_last=3))
            expected.append(make_copy(s))
            mutate(s, 100 + e)  # uncommitted work after the epoch
            store.save(s, {"v": np.arange(500), "w": np.arange(500)})
    assert list_epochs(tmp_path) == [3, 4, 5]
    assert json.loads(json.dumps(tokens[-1])) == tokens[-1]
    assert same(restore_epoch(tmp_path, tokens[2]), expected[2])
    assert list_epochs(tmp_path) == [3]  # newer, never-committed epochs are dropped
    with ParamStore(tmp_path) as store:  # resume: committing again continues after the token
        t = commit_epoch(store, expected[2], {}, keep_last=3)
    assert t["epoch"] == 4 and same(restore_epoch(tmp_path, t), expected[2])
    with pytest.raises(FileNotFoundError):
        restore_epoch(tmp_path, tokens[0])  # pruned
    for bad in ({"format": 1, "epoch": 1, "checkpoint": "../x", "digest": ""}, "x", {"format": 1}):
        with pytest.raises(ValueError):
            restore_epoch(tmp_path, bad)


def make_copy(s: ModelState) -> ModelState:
    return ModelState(
        {k: a.copy() for k, a in s.arrays.items()}, {k: list(v) for k, v in s.vocab.items()}, dict(s.meta)
    )


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="streamrec")
    add_model_parsers(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_model_cli_commands(tmp_path, capsys):
    d = str(tmp_path / "st")
    with pytest.raises(UsageError, match="no such directory"):
        run_cli(["model", "info", "--state", d])
    with ParamStore(d) as store:
        store.save(make_state(7))
    assert run_cli(["model", "snapshot", "--state", d, "--label", "nightly"]) == 0
    vid = json.loads(capsys.readouterr().out)["version"]
    assert run_cli(["model", "list", "--state", d]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["label"], r["current"]) for r in rows] == [(vid, "nightly", True)]
    with ParamStore(d) as store:  # info works while a process holds the DB
        store.save(make_state(8))
        assert run_cli(["model", "info", "--state", d, "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["meta"]["seed"] == 8 and info["arrays"]["v"] == {"dtype": "<f4", "shape": [500, 16]}
        assert run_cli(["model", "rollback", "--state", d, vid]) == 1  # refused: DB open
    assert run_cli(["model", "rollback", "--state", d, vid]) == 0
    with ParamStore(d) as store:
        assert same(store.load(), make_state(7))


def test_state_size_counts_hard_links_once(tmp_path):
    with ParamStore(tmp_path) as store:
        store.save(make_state(9, n=5000))
        store.db.flush()
    one = state_size_bytes(tmp_path)
    snapshot(tmp_path)
    two = state_size_bytes(tmp_path)
    assert one["live"] > 5000 * 16 * 4
    assert two["versions"] >= one["live"] * 0.9
    assert two["total"] < one["live"] + two["versions"]  # shared .sst files counted once
