"""Long commands (``ope``, ``produce``) draw a progress bar with rate and ETA on a terminal and
print none when stderr is piped (the CLI run as a subprocess, stderr on a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest
from test_ope_streamrec_refit import simulated_log

from streamrec.shell.traffic import ClickGenerator


def cli(*args: str, stderr_tty: bool) -> tuple[str, str]:
    """``python -m streamrec ARGS``: (stdout, what stderr showed), stderr on a terminal or a pipe."""
    cmd = [sys.executable, "-m", "streamrec", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
    if not stderr_tty:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True)
        return res.stdout, res.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer of the terminal is gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.wait(timeout=300) == 0, seen[-2000:]
    return out, seen.decode(errors="replace")


def final_bar(terminal: str) -> str:
    """The last redraw of a ``\\r``-redrawn bar."""
    return terminal.replace("\r\n", "\n").split("\r")[-1]


def check_bar(args: list[str], pattern: str) -> str:
    out, err = cli(*args, stderr_tty=False)
    assert "\r" not in err and "ETA" not in err and "/s" not in err, err  # no bar in a pipe
    out_tty, terminal = cli(*args, stderr_tty=True)
    assert "ETA" not in out_tty  # the bar goes to the terminal (stderr), never into stdout
    assert re.search(pattern, final_bar(terminal)), terminal
    return out


def test_ope_progress(tmp_path):
    log = tmp_path / "rewards.jsonl"
    simulated_log(log, n_decisions=300)
    args = ["ope", str(log), "--format", "streamrec", "--policy", "greedy", "--n-bootstrap", "50", "--dm-refits", "5"]
    out = check_bar(args, r"ope 6/6 model fits \[=+\] 100% [\d.,]+/s ETA 0:00")
    assert "dm" in out and "ips" in out


@pytest.mark.kafka
def test_produce_progress(tmp_path, broker):
    log = tmp_path / "events.jsonl"
    events = ClickGenerator(n_users=20, n_items=50, seed=3).events(400)
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    args = ["produce", str(log), "--topic", "progress-test", "--brokers", broker.bootstrap]
    out = check_bar(args, r"produce 400/400 records \[=+\] 100% [\d.,]+/s ETA 0:00")
    assert "produced 400 records" in out
