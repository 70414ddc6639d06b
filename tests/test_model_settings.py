"""Model settings: TOML + KEY=VALUE checked into a RecommenderConfig, the safe-change guard
against a stored state, and the recorded input layout of a state's recovery store."""

from __future__ import annotations

from dataclasses import fields

import pytest

from streamrec.online.config import RecommenderConfig
from streamrec.online.recommender import Recommender
from streamrec.shell.traffic import ClickGenerator
from streamrec.state.run_topology import TopologyChanged, check_and_record
from streamrec.state.settings import SettingsError, requested_settings
from streamrec.state.settings_guard import (
    SAFE_SETTINGS,
    SettingsConflict,
    config_for_run,
    resolve,
)


def write(tmp_path, text: str, name: str = "model.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_toml_then_sets_later_wins_and_types_follow_the_fields(tmp_path):
    path = write(tmp_path, 'k = 8\nlr = 1\noptimizer = "sgd"\ncold_start_centroid = false\n')
    got = requested_settings(path, ["lr=0.25", "n_probe=6"])
    assert got == {"k": 8, "lr": 0.25, "optimizer": "sgd", "cold_start_centroid": False, "n_probe": 6}
    assert isinstance(requested_settings(path)["lr"], float)  # a TOML integer is accepted for a float
    table = write(tmp_path, "[model]\nk = 12\n", "table.toml")
    assert requested_settings(table) == {"k": 12}
    assert requested_settings(sets=["cold_start_centroid=no"]) == {"cold_start_centroid": False}


@pytest.mark.parametrize(
    "toml, sets, words",
    [
        ("kk = 8\n", [], ["--model-config", "'kk'", "did you mean 'k'"]),
        ('k = "8"\n', [], ["k = '8'", "k takes a int (default 16)"]),
        ("k = true\n", [], ["k = True", "takes a int"]),
        ("n_buckets = 16\n", [], ["n_buckets = 16", "not allowed", "n_buckets >= 64"]),
        ("", ["lr=fast"], ["--model-set lr=fast", "lr takes a float (default 0.1)"]),
        ("", ["lr"], ["--model-set lr", "expected KEY=VALUE"]),
        ("", ["optimizer=adam"], ["--model-set optimizer=adam", "'adagrad' or 'sgd'"]),
        ("", ["cold_start_centroid=maybe"], ["cold_start_centroid=maybe", "takes a bool"]),
        ("k = [\n", [], ["not a readable TOML file"]),
    ],
)
def test_mistakes_are_one_line_naming_key_value_and_what_is_allowed(tmp_path, toml, sets, words):
    path = write(tmp_path, toml) if toml else ""
    with pytest.raises(SettingsError) as err:
        requested_settings(path, sets)
    msg = str(err.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_a_missing_file_is_named():
    with pytest.raises(SettingsError, match="--model-config nope.toml: no such file"):
        requested_settings("nope.toml")


def test_a_new_state_gets_the_requested_settings_over_the_defaults():
    cfg = resolve(None, {"k": 8, "lr": 0.05})
    assert (cfg.k, cfg.lr, cfg.n_buckets) == (8, 0.05, RecommenderConfig().n_buckets)


def test_unsafe_changes_are_refused_naming_setting_old_and_new():
    stored = RecommenderConfig(k=8).to_dict()
    unsafe = [f.name for f in fields(RecommenderConfig) if f.name not in SAFE_SETTINGS]
    assert {"k", "n_buckets", "max_item_features", "n_neighbours", "occurrence_window", "seed"} <= set(unsafe)
    for key in unsafe:
        new = "sgd" if key == "optimizer" else stored[key] + 1
        with pytest.raises(SettingsConflict) as err:
            resolve(stored, {key: new})
        msg = str(err.value)
        assert f"model setting {key} is {stored[key]!r}" in msg and f"{new!r} was requested" in msg
        assert "new --state" in msg and "\n" not in msg
    assert resolve(stored, {"k": 8}).k == 8  # asking for the stored value is no change


def test_safe_changes_apply_and_unrequested_settings_keep_the_stored_values():
    stored = RecommenderConfig(k=8, lr=0.2, n_probe=2).to_dict()
    cfg = resolve(stored, {"lr": 0.05, "drift_lr_boost": 3.0})
    assert (cfg.k, cfg.lr, cfg.n_probe, cfg.drift_lr_boost) == (8, 0.05, 2, 3.0)
    assert SAFE_SETTINGS <= {f.name for f in fields(RecommenderConfig)}


def test_a_live_model_continues_under_every_safe_change():
    """Each safe setting, changed on a trained state, restores and keeps learning and ranking."""
    gen = ClickGenerator(n_users=30, n_items=60, seed=3)
    events = list(gen.events(400))
    rec = Recommender(RecommenderConfig(k=4, n_buckets=1 << 12))
    rec.process_batch(events[:200], n_candidates=10, rank_before=True)
    state = rec.export_state()
    bumped = {"negative_sampling": "popularity", "cold_start_centroid": False}
    for key in sorted(SAFE_SETTINGS):
        default = getattr(RecommenderConfig(), key)
        new = bumped.get(key, default * 2 if not isinstance(default, bool) else not default)
        cfg = config_for_run(state.meta, "", f"{key}={new}")
        assert getattr(cfg, key) == new and cfg.k == 4
        live = Recommender.from_state(state, cfg)
        live.process_batch(events[200:], n_candidates=10, rank_before=True)
        assert len(live.rank("u1", k=5)) == 5
        assert f'"{key}": {new!r}'.replace("'", '"').replace("False", "false") in live.export_state().meta["config"]


def test_input_layout_is_recorded_then_a_change_is_refused(tmp_path):
    check_and_record(tmp_path, {"clicks": 2}, 1, resuming=False)
    check_and_record(tmp_path, {"clicks": 2}, 1)
    check_and_record(tmp_path, {"clicks": None}, 1)  # partition count unknown: not compared
    check_and_record(tmp_path, {"clicks": 3}, 1)  # a partition added: read from the beginning
    for topics, workers, said in [
        ({"views": 3}, 1, "input topics were clicks, now views"),
        ({"clicks": 1}, 1, "topic clicks had 3 partitions, now 1"),
        ({"clicks": 3}, 2, "workers were 1, now 2"),
    ]:
        with pytest.raises(TopologyChanged, match=said) as err:
            check_and_record(tmp_path, topics, workers)
        assert "new --state" in str(err.value) and "model snapshot" in str(err.value)
    check_and_record(tmp_path, {"views": 1}, 1, resuming=False)  # recovery reset: recorded afresh
    check_and_record(tmp_path, {"views": 1}, 1)
