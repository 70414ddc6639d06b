"""Report files and the ``streamrec replay`` subcommand."""

import json

import numpy as np

from streamrec.contract.events import ClickEvent
from streamrec.replay.baselines import Popularity, RiverFM, Transitions
from streamrec.replay.movielens import write_jsonl
from streamrec.replay.prequential import run_prequential
from streamrec.replay.report import format_table, write_report
from streamrec.shell.cli import main


def events(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return [ClickEvent(f"e{t}", 1.7e9 + t, f"u{rng.integers(7)}", f"i{rng.integers(15)}") for t in range(n)]


def test_write_report_creates_json_and_pngs(tmp_path):
    res = run_prequential(events(), [Popularity(), Transitions(), RiverFM(max_events=50)], chunk=20)
    files = write_report(res, tmp_path / "rep", extra={"log": "synthetic"})
    for key in ("metrics", "rolling_hr", "events_per_s"):
        assert files[key].exists() and files[key].stat().st_size > 0
    assert files["rolling_hr"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(files["metrics"].read_text())
    assert data["log"] == "synthetic" and data["n_events"] == 120
    pop = data["models"]["popularity"]
    assert pop["all"]["hr"] == res.models["popularity"].all.hr
    assert len(pop["series"]) == 6 and data["models"]["river-fm"]["n_events"] == 50


def test_table_lists_every_model_and_the_subsample_note():
    res = run_prequential(events(), [Popularity(), RiverFM(max_events=40)])
    table = format_table(res)
    assert "popularity" in table and "river-fm" in table and "±" in table
    assert "first 40 of 120 events" in table


def run_cli(argv):
    return main(argv)


def test_replay_subcommand_on_a_jsonl_log(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    write_jsonl(events(), log)
    with open(log, "a") as f:
        f.write("garbage\n")
    out = tmp_path / "m.json"
    code = run_cli(
        [
            "replay",
            str(log),
            "--models",
            "popularity,decayed,transitions",
            "--stride",
            "2",
            "--out",
            str(out),
            "--report",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "1 invalid" in text and "decayed" in text and "transitions" in text
    data = json.loads(out.read_text())
    assert data["n_evaluated"] == 60 and data["read"]["invalid"] == {"malformed_json": 1}
    assert (tmp_path / "r" / "rolling_hr.png").exists()


def test_replay_subcommand_rejects_unknown_models_and_missing_files(tmp_path, capsys):
    assert run_cli(["replay", str(tmp_path / "nope.jsonl"), "--models", "popularity"]) == 2
    assert run_cli(["replay", str(tmp_path / "nope.jsonl"), "--models", "magic"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_missing_engine_is_reported_and_the_baselines_still_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "streamrec.online.recommender", None)  # import fails
    log = tmp_path / "log.jsonl"
    write_jsonl(events(40), log)
    assert run_cli(["replay", str(log), "--models", "engine,popularity"]) == 0
    cap = capsys.readouterr()
    assert "engine unavailable" in cap.err and "popularity" in cap.out
