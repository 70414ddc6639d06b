"""Mistakes a user makes on the command line: one line naming the flag, the value and what
is allowed, exit 2, before anything starts (the CLI run as a subprocess, as a user would)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamrec.online.config import RecommenderConfig
from streamrec.online.recommender import Recommender
from streamrec.shell.traffic import ClickGenerator
from streamrec.state.store import ParamStore

REPO = Path(__file__).resolve().parents[1]
NO_BROKER = "127.0.0.1:1"


def clean_env() -> dict[str, str]:
    """This environment without ``STREAMREC_*`` settings (they would change what is tested)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")} | {"PYTHONUNBUFFERED": "1"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m streamrec ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "streamrec", *args],
        cwd=cwd or REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def one_line_error(res: subprocess.CompletedProcess, *words: str, code: int = 2) -> str:
    """The run failed with exit ``code`` and exactly one stderr line containing ``words``."""
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert res.returncode == code, (res.returncode, res.stderr[-2000:])
    assert len(lines) == 1, res.stderr[-2000:]
    assert lines[0].startswith("streamrec ") and "error: " in lines[0], lines[0]
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


@pytest.fixture()
def trained_state(tmp_path) -> Path:
    """A state directory holding a small model with k=8."""
    rec = Recommender(RecommenderConfig(k=8, n_buckets=1 << 12))
    rec.process_batch(
        list(ClickGenerator(n_users=10, n_items=30, seed=1).events(120)), n_candidates=10, rank_before=True
    )
    d = tmp_path / "state"
    with ParamStore(d) as store:
        store.save(rec.export_state())
    return d


@pytest.mark.parametrize(
    "args, words",
    [
        (["--policy", "egreedy:abc"], ["--policy egreedy:abc", "allowed: greedy"]),
        (
            ["--ab-split", "a=egreedy:0.1@0.7,b=greedy@0.7"],
            ["--ab-split a=egreedy:0.1@0.7,b=greedy@0.7", "shares sum to 1.4", "NAME=POLICY@SHARE"],
        ),
        (["--ab-split", "garbage"], ["--ab-split garbage", "NAME=POLICY@SHARE"]),
        (["--kafka-config", "missing.properties"], ["--kafka-config missing.properties", "no such file"]),
        (["--k", "0"], ["--k 0", ">= 1"]),
        (["--model-set", "k=0"], ["--model-set k=0", "k >= 1"]),
        (["--model-set", "lrr=0.1"], ["'lrr'", "did you mean 'lr'"]),
        (["--model-config", "nope.toml"], ["--model-config nope.toml", "no such file"]),
    ],
)
def test_run_rejects_bad_flags_before_starting(tmp_path, args, words):
    one_line_error(cli("run", "--brokers", NO_BROKER, "--state", str(tmp_path / "s"), *args), *words)
    assert not (tmp_path / "s").exists()  # nothing started, nothing written


def test_state_that_is_a_file_is_refused_by_run_and_model_info(tmp_path):
    afile = tmp_path / "AFILE"
    afile.write_text("x")
    one_line_error(cli("run", "--brokers", NO_BROKER, "--state", str(afile)), f"--state {afile}", "is a file")
    one_line_error(cli("model", "info", "--state", str(afile)), f"--state {afile}", "is a file")


def test_model_commands_on_a_missing_state_are_errors_not_silence(tmp_path):
    for cmd in ("list", "info", "snapshot"):
        res = cli("model", cmd, "--state", str(tmp_path / "does-not-exist"))
        one_line_error(res, "does-not-exist", "no such directory")
        assert res.stdout == ""


def test_busy_metrics_port_is_named(tmp_path):
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line_error(
            cli("run", "--brokers", NO_BROKER, "--state", str(tmp_path / "s"), "--metrics-port", str(port)),
            f"--metrics-port {port}",
            "already in use",
        )


def test_broker_on_a_busy_port_fails_instead_of_claiming_to_serve():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = cli("broker", "--port", str(port))
    one_line_error(res, f"--port {port}", "already in use")
    assert "embedded broker on" not in res.stdout


def test_kafka_client_settings_are_checked_by_every_kafka_command():
    one_line_error(cli("subscribe", "--kafka-config", "nope.props"), "--kafka-config nope.props", "no such file")
    one_line_error(cli("run", "--brokers", NO_BROKER, "--kafka-opt", "acks"), "--kafka-opt acks", "KEY=VALUE")


def test_produce_and_ope_name_the_missing_file_and_the_bad_policy(tmp_path):
    one_line_error(cli("produce", "nope.jsonl", "--brokers", NO_BROKER), "nope.jsonl", "no such file")
    one_line_error(cli("ope", "nope.csv.gz"), "nope.csv.gz", "no such file", "Open Bandit")
    log = tmp_path / "all.csv.gz"
    log.write_bytes(b"")
    one_line_error(cli("ope", str(log), "--policy", "nonsense"), "--policy nonsense", "random | bts", "egreedy:EPS")


def _reward_records(path: Path) -> None:
    rows = [
        {
            "rec_id": f"r{i}",
            "user": f"u{i}",
            "arm": "ab"[i % 2],
            "reward": i % 3 == 0,
            "slate": {"items": ["i1", "i2"], "propensities": [0.5, 0.5]},
        }
        for i in range(20)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_ab_report_refuses_an_unknown_control_arm_and_a_log_without_rewards(tmp_path):
    rewards, clicks = tmp_path / "rewards.jsonl", tmp_path / "clicks.jsonl"
    _reward_records(rewards)
    ok = cli("ab-report", str(rewards), "--control", "b")
    assert ok.returncode == 0 and "a" in ok.stdout, ok.stderr
    one_line_error(cli("ab-report", str(rewards), "--control", "NOSUCHARM"), "--control NOSUCHARM", "arms: a, b")
    events = ClickGenerator(n_users=5, n_items=10, seed=2).events(10)
    clicks.write_text("".join(json.dumps(e) + "\n" for e in events))
    one_line_error(cli("ab-report", str(clicks)), str(clicks), "no reward records")


def test_a_changed_structural_setting_on_an_existing_state_is_refused(trained_state, tmp_path):
    one_line_error(
        cli("run", "--brokers", NO_BROKER, "--state", str(trained_state), "--model-set", "k=16"),
        "model setting k is 8",
        "16 was requested",
        "new --state",
    )
    toml = tmp_path / "m.toml"
    toml.write_text("seed = 7\nlr = 0.05\n")
    one_line_error(
        cli("run", "--brokers", NO_BROKER, "--state", str(trained_state), "--model-config", str(toml)),
        "model setting seed is 42",
        "7 was requested",
    )


def test_a_changed_input_topic_on_a_resumable_state_is_refused(tmp_path):
    from streamrec.contract.config import RunConfig
    from streamrec.shell.runner import prepare_recovery
    from streamrec.state.run_topology import check_and_record

    state = tmp_path / "state"
    prepare_recovery(RunConfig(state_dir=str(state)))
    check_and_record(state, {"clicks": 1}, 1, resuming=False)
    one_line_error(
        cli("run", "--brokers", NO_BROKER, "--state", str(state), "--in", "views"),
        "input topics were clicks, now views",
        "new --state",
        "model snapshot",
    )


def test_model_info_is_readable_with_version_and_settings(trained_state):
    res = cli("model", "info", "--state", str(trained_state))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "model      v0000+120" in out and "k=8 (default 16)" in out and "n_buckets=4096" in out
    assert len(out.splitlines()) > 4 and not out.lstrip().startswith("{")
    info = json.loads(cli("model", "info", "--state", str(trained_state), "--json").stdout)
    assert info["model_version"] == "v0000+120" and json.loads(info["meta"]["config"])["k"] == 8


def test_replay_help_shows_no_internal_notes():
    res = cli("replay", "--help")
    assert res.returncode == 0
    assert "lead" not in res.stdout and "Registered" not in res.stdout and "optional here" not in res.stdout
    assert "--model-config" in res.stdout and "--model-set" in res.stdout


def test_unreachable_broker_on_run_is_one_error_after_the_connect_timeout(tmp_path):
    res = cli("run", "--brokers", NO_BROKER, "--state", str(tmp_path / "s"), "--connect-timeout", "3")
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert res.returncode == 1, res.stderr[-2000:]
    assert lines[-1].startswith("streamrec run: error: cannot reach Kafka at 127.0.0.1:1 after 3 s")
    assert all(x.startswith("waiting for Kafka at 127.0.0.1:1") for x in lines[:-1])
    assert len(lines) <= 4, "at most one line per retry interval"


def test_missing_input_topic_is_reported(broker, tmp_path):
    res = cli("run", "--brokers", broker.bootstrap, "--in", "no-such-topic", "--state", str(tmp_path / "s"))
    one_line_error(res, "no-such-topic", "--create-topics", code=1)
