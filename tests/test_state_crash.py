"""kill -9 a process mid-save / mid-epoch: the DB reopens at a committed state, and
restoring the last epoch token gives exactly the state at that token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streamrec.state.epochs import restore_epoch
from streamrec.state.store import ParamStore

REPO = Path(__file__).resolve().parents[1]

# Step i of a deterministic "training" run: rows chosen from seed i get value i,
# every 7th step the big array is rewritten entirely; vocab grows by one id.
CHILD = r"""
import json, sys
import numpy as np
from streamrec.online.model_state import ModelState
from streamrec.state.store import ParamStore
from streamrec.state.epochs import commit_epoch

def step(s, i):
    rng = np.random.default_rng(i)
    rows = np.unique(rng.integers(0, s.arrays["big"].shape[0], size=64))
    if i % 7 == 0:
        s.arrays["big"][:] = i
        rows = None
    else:
        s.arrays["big"][rows] = i
    s.arrays["bias"][i % s.arrays["bias"].shape[0]] = i
    s.vocab["items"].append(f"it{i}")
    s.meta["i"] = i
    return rows

def initial():
    return ModelState({"big": np.zeros((4096, 64), np.float32), "bias": np.zeros(100)},
                      {"items": []}, {"i": -1})

if __name__ == "__main__":
    state_dir, mode = sys.argv[1], sys.argv[2]
    s = initial()
    with ParamStore(state_dir) as store:
        store.save(s)
        for i in range(100000):
            rows = step(s, i)
            dirty = None if rows is None else {"big": rows, "bias": np.array([i % 100])}
            if mode == "epochs" and i % 3 == 0:
                token = commit_epoch(store, s, dirty, keep_last=2)
                print("token " + json.dumps(token), flush=True)
            else:
                store.save(s, dirty)
                print(f"saved {i}", flush=True)
"""


def _child_module(tmp_path: Path) -> Path:
    path = tmp_path / "crash_child.py"
    path.write_text(CHILD)
    return path


def _expected(tmp_path: Path, upto: int):
    sys.path.insert(0, str(tmp_path))
    try:
        import crash_child
    finally:
        sys.path.pop(0)
    s = crash_child.initial()
    for i in range(upto + 1):
        crash_child.step(s, i)
    return s


def _run_and_kill(tmp_path: Path, mode: str, min_lines: int, delay: float) -> list[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, str(_child_module(tmp_path)), str(tmp_path / "st"), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    try:
        while len(lines) < min_lines:
            line = proc.stdout.readline()
            assert line, "child exited early"
            lines.append(line.strip())
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
    return lines + [x for x in rest.splitlines() if x]


def _assert_same(a, b):
    assert a.arrays.keys() == b.arrays.keys()
    for n in a.arrays:
        assert a.arrays[n].dtype == b.arrays[n].dtype and a.arrays[n].tobytes() == b.arrays[n].tobytes()
    assert a.vocab == b.vocab and a.meta == b.meta


def test_sigkill_mid_save_loop_leaves_a_committed_state(tmp_path):
    for attempt, delay in enumerate([0.0, 0.013, 0.037]):
        run = tmp_path / f"run{attempt}"
        run.mkdir()
        lines = _run_and_kill(run, "saves", min_lines=5 + 3 * attempt, delay=delay)
        last = max(int(x.split()[1]) for x in lines if x.startswith("saved"))
        with ParamStore(run / "st") as store:
            got = store.load()
        k = got.meta["i"]
        assert k >= last  # every save that returned is durable
        _assert_same(got, _expected(run, k))  # and the state is exactly save k, not a mix


def test_restore_last_token_after_sigkill_equals_state_at_token(tmp_path):
    lines = _run_and_kill(tmp_path, "epochs", min_lines=12, delay=0.02)
    tokens = [json.loads(x[6:]) for x in lines if x.startswith("token ")]
    token = tokens[-1]
    with ParamStore(tmp_path / "st") as store:
        later = store.load().meta["i"]
    restored = restore_epoch(tmp_path / "st", token)
    at_token = 3 * (token["epoch"] - 1)  # epochs are committed at i = 0, 3, 6, ...
    assert later >= at_token
    _assert_same(restored, _expected(tmp_path, at_token))
    with ParamStore(tmp_path / "st") as store:  # the live DB now holds the token's state
        _assert_same(store.load(), restored)
