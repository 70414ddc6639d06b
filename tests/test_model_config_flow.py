"""``streamrec run --model-config`` end to end: the settings reach the live model, are stored
with the state and shown by ``model info``; on restart an unsafe change is refused and a safe
one is taken. ``streamrec replay --model-config`` runs the engine with the file's settings."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import kafka_helpers as kh
import pytest
from test_cli_errors import clean_env, cli

from streamrec.contract.config import RunConfig
from streamrec.shell.traffic import ClickGenerator


def info(state: str) -> dict:
    res = cli("model", "info", "--state", state, "--json")
    return json.loads(res.stdout) if res.returncode == 0 else {}


def serve(cfg: RunConfig, log: Path, extra: list[str] | None, events: list[dict], recs: kh.TopicReader, total: int):
    """Run the flow (``streamrec run`` + ``extra`` flags; ``None``: ``python -m bytewax.run`` configured by
    ``STREAMREC_*`` variables) until the model has committed ``total`` learned events, then stop it."""
    kh.produce(cfg.brokers, cfg.in_topic, kh.events_payloads(events))
    with open(log, "ab") as out:
        if extra is None:
            proc = kh.start_flow(cfg, log, via_bytewax_run=True)
        else:
            proc = subprocess.Popen(kh.run_cmd(cfg, *extra), cwd=kh.REPO, env=clean_env(), stdout=out, stderr=out)
        try:
            recs.wait_for(total, timeout=300)
            deadline = time.monotonic() + 60
            while info(cfg.state_dir).get("meta", {}).get("n_events") != total and time.monotonic() < deadline:
                time.sleep(0.5)  # wait for the epoch that commits the last events
        finally:
            kh.stop_flow(proc)


@pytest.mark.kafka
@pytest.mark.slow
def test_run_model_config_is_used_stored_shown_and_guarded(broker, tmp_path):
    cfg = kh.unique_config(broker.bootstrap, tmp_path / "state")
    toml = tmp_path / "model.toml"
    toml.write_text("k = 8\nn_buckets = 4096\nlr = 0.05\n")
    gen = ClickGenerator(n_users=20, n_items=50, seed=9)
    first, second, third = list(gen.events(60)), list(gen.events(40)), list(gen.events(20))
    recs = kh.TopicReader(broker.bootstrap, cfg.out_topic)
    try:
        serve(cfg, tmp_path / "flow1.log", ["--model-config", str(toml)], first, recs, len(first))
        got = info(cfg.state_dir)
        log = (tmp_path / "flow1.log").read_text(errors="replace")[-3000:]
        settings = json.loads(got["meta"]["config"])
        assert (settings["k"], settings["n_buckets"], settings["lr"]) == (8, 4096, 0.05), log
        assert got["arrays"]["fm_v"]["shape"][1] == 8 and got["model_version"] == "v0000+60"
        shown = cli("model", "info", "--state", cfg.state_dir).stdout
        assert "v0000+60" in shown and "k=8 (default 16)" in shown and "lr=0.05 (default 0.1)" in shown

        refused = cli(*kh.run_cmd(cfg, "--model-config", str(toml), "--model-set", "n_buckets=8192")[3:])
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "model setting n_buckets is 4096" in refused.stderr and "8192 was requested" in refused.stderr

        # a safe change (and no file: the stored settings stay) is taken by the live model
        serve(
            cfg,
            tmp_path / "flow2.log",
            ["--model-set", "lr=0.02", "--model-set", "n_probe=2"],
            second,
            recs,
            len(first) + len(second),
        )
        got = info(cfg.state_dir)
        settings = json.loads(got["meta"]["config"])
        log = (tmp_path / "flow2.log").read_text(errors="replace")[-3000:]
        assert (settings["k"], settings["lr"], settings["n_probe"]) == (8, 0.02, 2), log
        assert got["model_version"] == "v0000+100"

        # Bytewax's own runner takes the settings from STREAMREC_MODEL_CONFIG / STREAMREC_MODEL_SET
        cfg.model_config, cfg.model_set = str(toml), "lr=0.03,n_probe=3"
        serve(cfg, tmp_path / "flow3.log", None, third, recs, 120)
        settings = json.loads(info(cfg.state_dir)["meta"]["config"])
        log = (tmp_path / "flow3.log").read_text(errors="replace")[-3000:]
        assert (settings["k"], settings["lr"], settings["n_probe"]) == (8, 0.03, 3), log
    finally:
        recs.close()


def write_jsonl(events: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def replay(log: Path, out: Path, *extra: str) -> dict:
    from streamrec.shell.cli import main

    assert main(["replay", str(log), "--models", "engine", "--out", str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_replay_uses_the_model_config(tmp_path):
    log = tmp_path / "log.jsonl"
    write_jsonl(list(ClickGenerator(n_users=30, n_items=80, seed=4).events(600)), log)
    toml = tmp_path / "model.toml"
    toml.write_text("k = 4\nn_buckets = 2048\nseed = 7\n")
    default = replay(log, tmp_path / "a.json")
    tuned = replay(log, tmp_path / "b.json", "--model-config", str(toml))
    again = replay(log, tmp_path / "c.json", "--model-config", str(toml), "--model-set", "k=4")
    assert default["engine_settings"]["k"] == 16
    assert (tuned["engine_settings"]["k"], tuned["engine_settings"]["n_buckets"], tuned["engine_settings"]["seed"]) == (
        4,
        2048,
        7,
    )
    ranks = {
        name: (d["models"]["streamrec-fm"]["all"], d["models"]["streamrec-fm"]["warm"])  # not the timings
        for name, d in (("default", default), ("tuned", tuned), ("again", again))
    }
    assert ranks["tuned"] == ranks["again"] and ranks["tuned"] != ranks["default"]


def test_replay_rejects_bad_model_settings(tmp_path, capsys):
    from streamrec.shell.cli import main

    log = tmp_path / "log.jsonl"
    write_jsonl(list(ClickGenerator(n_users=3, n_items=5, seed=4).events(5)), log)
    assert main(["replay", str(log), "--models", "engine", "--model-set", "n_buckets=8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--model-set n_buckets=8" in err and "n_buckets >= 64" in err
