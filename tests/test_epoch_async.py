"""Background epoch commits (state.epoch_commit): kill -9 before RocksDB has an epoch, torn
and missing redo files, several epochs in flight, the token digest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from test_state_crash import REPO, _assert_same, _child_module, _expected

from streamrec.state import commit_worker, redo
from streamrec.state.epoch_commit import PRECOPY_ROUNDS, EpochCommitter
from streamrec.state.epochs import (
    commit_epoch,
    list_epochs,
    list_redo,
    next_epoch,
    redo_path,
    restore_epoch,
    start_without_resume,
)
from streamrec.state.store import ParamStore

# the deterministic run of test_state_crash (crash_child.step), committed with the background
# committer every 3 steps; with STALL=k the background work of epochs >= k hangs before its
# checkpoint (the process is then killed with the epochs only in redo files)
ASYNC_CHILD = r"""
import json, sys, threading
import numpy as np
from crash_child import initial, step
from streamrec.state import commit_worker, epoch_commit
from streamrec.state.store import ParamStore

def say(line):  # one write per line: two threads print
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

state_dir, stall, pending = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
real = commit_worker.checkpoint_epoch
def checkpoint(store, seq, keep_last):
    if stall and seq >= stall:
        say(f"stalled {seq}")
        threading.Event().wait()
    real(store, seq, keep_last)
commit_worker.checkpoint_epoch = checkpoint  # in this process: stalls need worker=False
s = initial()
store = ParamStore(state_dir, wal=False, diff=True)
store.save(s)
committer = epoch_commit.EpochCommitter(store, keep_last=2, max_pending=pending, worker=not stall)
acc = []  # rows changed since the last commit (None: all)
for i in range(100000):
    rows = step(s, i)
    acc = None if rows is None or acc is None else acc + [rows]
    if i % 3 == 0:
        dirty = None if acc is None else {"big": np.unique(np.concatenate(acc)), "bias": np.arange(100)}
        acc = []
        say("token " + json.dumps(committer.commit(s, dirty)))
        if stall and i // 3 + 1 >= stall + pending - 1:
            threading.Event().wait()
"""


def _run(tmp_path: Path, stall: int, pending: int, until, delay: float = 0.0) -> list[str]:
    _child_module(tmp_path)  # crash_child.py: the run's steps
    (tmp_path / "async_child.py").write_text(ASYNC_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(tmp_path / "async_child.py"), str(tmp_path / "st"), str(stall), str(pending)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        while not until(lines):
            line = proc.stdout.readline()
            assert line, "child exited early"
            lines.append(line.strip())
        if delay:
            threading.Event().wait(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
    return lines + [x for x in rest.splitlines() if x]


def _tokens(lines: list[str]) -> list[dict]:
    return [json.loads(x[6:]) for x in lines if x.startswith("token ")]


def _at(token: dict) -> int:
    return 3 * (token["epoch"] - 1)  # epochs are committed at i = 0, 3, 6, ...


@pytest.mark.parametrize("stall", [2, 4])
def test_kill_before_checkpoint_restores_from_older_checkpoint_and_redo_files(tmp_path, stall):
    # epochs < stall complete; stall and stall+1 in flight (the first stalled before its
    # checkpoint, the second waiting for it). Redo 2 and 3 are deltas; 4 is full (step 7
    # rewrote the whole array), applied onto checkpoint 3 all the same.
    lines = _run(
        tmp_path,
        stall=stall,
        pending=2,
        until=lambda ls: len(_tokens(ls)) == stall + 1 and any("stalled" in x for x in ls),
    )
    st = tmp_path / "st"
    assert list_epochs(st) == list(range(max(1, stall - 2), stall)) and list_redo(st) == [stall, stall + 1]
    token = _tokens(lines)[-1]
    torn = redo_path(st, stall + 2).with_suffix(".redo.tmp")
    torn.write_bytes(b"SRREDO1\n")  # as a kill in the middle of writing the next epoch leaves it
    restored = restore_epoch(st, token)
    _assert_same(restored, _expected(tmp_path, _at(token)))
    assert not torn.exists()
    assert list_epochs(st) == list(range(max(1, stall - 2), stall)) + [stall + 1] and list_redo(st) == []
    assert next_epoch(st) == stall + 2  # the replayed state is checkpointed
    _assert_same(restore_epoch(st, token), restored)  # and restoring again uses that checkpoint


def test_kill_at_any_moment_restores_the_last_token_bitwise(tmp_path):
    for attempt, delay in enumerate([0.0, 0.011, 0.029, 0.05]):
        run = tmp_path / f"run{attempt}"
        run.mkdir()
        lines = _run(
            run, stall=0, pending=1 + attempt % 2, until=lambda ls, n=6 + 3 * attempt: len(ls) >= n, delay=delay
        )
        token = _tokens(lines)[-1]
        _assert_same(restore_epoch(run / "st", token), _expected(run, _at(token)))


@pytest.mark.parametrize("damage", ["truncate", "delete", "flip", "other_boot"])
def test_a_missing_or_torn_redo_file_is_a_clear_error(tmp_path, monkeypatch, damage):
    lines = _run(
        tmp_path, stall=2, pending=2, until=lambda ls: len(_tokens(ls)) == 3 and any("stalled" in x for x in ls)
    )
    st, token = tmp_path / "st", _tokens(lines)[-1]
    path = redo_path(st, 2)  # a delta: restoring epoch 3 needs checkpoint 1 + redo 2 + redo 3
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "delete":
        path.unlink()
    elif damage == "flip":
        redo.seal(path)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 1
        path.write_bytes(bytes(raw))
    else:  # the machine restarted since they were written: redo 2 is sealed, 3 is not
        monkeypatch.setattr(redo, "boot_id", lambda: "another-boot")
        path = redo_path(st, 3)
    with pytest.raises(redo.RedoError, match=str(path)):
        restore_epoch(st, token)


def test_two_epochs_in_flight_commit_in_order_and_match_sync_commits(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    from streamrec.online.model_state import ModelState

    s = ModelState({"w": rng.random((3000, 16)).astype("<f4"), "b": np.zeros(7)}, {"ids": ["a"]}, {"n": 0})
    gate, order = threading.Event(), []
    real = commit_worker.checkpoint_epoch

    def checkpoint(store, seq, keep_last):
        gate.wait()
        order.append(seq)
        real(store, seq, keep_last)

    monkeypatch.setattr(commit_worker, "checkpoint_epoch", checkpoint)
    store, ref = ParamStore(tmp_path / "a", wal=False, diff=True), ParamStore(tmp_path / "b", diff=True)
    committer = EpochCommitter(store, keep_last=10, max_pending=2, worker=False)
    tokens, expected = [], []
    for e in range(2):
        rows = rng.choice(3000, 40, replace=False)
        s.arrays["w"][rows] += 1.0
        s.vocab["ids"].append(f"id{e}")
        s.meta["n"] = e
        tokens.append(committer.commit(s, {"w": rows}))
        assert tokens[-1]["digest"] == commit_epoch(ref, s, {"w": rows})["digest"]  # same state, same digest
        expected.append(
            ModelState({k: a.copy() for k, a in s.arrays.items()}, {"ids": list(s.vocab["ids"])}, dict(s.meta))
        )
    assert list_redo(tmp_path / "a") == [1, 2] and list_epochs(tmp_path / "a") == []
    gate.set()
    committer.wait()
    assert order == [1, 2] and list_epochs(tmp_path / "a") == [1, 2] and list_redo(tmp_path / "a") == []
    assert store.digest() == tokens[-1]["digest"]
    store.close()
    for token, exp in reversed(list(zip(tokens, expected))):  # restoring drops later epochs
        _assert_same(restore_epoch(tmp_path / "a", token), exp)
    ref.close()


def test_a_failed_background_commit_fails_the_next_commit(tmp_path, monkeypatch):
    from streamrec.online.model_state import ModelState

    s = ModelState({"w": np.zeros(10)}, {}, {"n": 0})

    def broken(store, seq, keep_last):
        raise OSError("disk full")

    monkeypatch.setattr(commit_worker, "checkpoint_epoch", broken)
    with ParamStore(tmp_path, wal=False, diff=True) as store:
        committer = EpochCommitter(store, worker=False)
        token = committer.commit(s, None)
        with pytest.raises(RuntimeError, match="disk full"):
            committer.wait()
        with pytest.raises(RuntimeError, match="disk full"):
            committer.commit(s, {})
    assert list_redo(tmp_path) == [1]  # the epoch is still recoverable from its redo file
    _assert_same(restore_epoch(tmp_path, token), s)


def test_start_without_resume_drops_redo_files(tmp_path):
    lines = _run(tmp_path, stall=2, pending=1, until=lambda ls: any("stalled" in x for x in ls))
    st = tmp_path / "st"
    assert _tokens(lines) and list_redo(st) == [2]
    marker = tmp_path / "recovery"
    assert start_without_resume(st, marker) is False  # first start: takes the baseline
    assert start_without_resume(st, marker) is True
    assert list_redo(st) == [] and list_epochs(st) == [] and next_epoch(st) == 1


def test_the_worker_process_commits_in_order_and_a_dead_worker_fails_the_next_commit(tmp_path):
    from streamrec.online.model_state import ModelState

    s = ModelState({"w": np.zeros((500, 8))}, {}, {"n": 0})
    store = ParamStore(tmp_path, wal=False, diff=True)
    committer = EpochCommitter(store, keep_last=3, max_pending=2)  # a worker process owns the DB
    tokens = []
    for e in range(5):
        s.arrays["w"][e * 50 : e * 50 + 10] = e + 1
        s.meta["n"] = e
        tokens.append(committer.commit(s, {"w": np.arange(e * 50, e * 50 + 10)}))
    committer.wait()
    assert list_epochs(tmp_path) == [3, 4, 5] and list_redo(tmp_path) == []
    assert committer.timings["bg_apply"] >= 0 and committer.timings["redo_bytes"] > 0
    committer._worker.proc.kill()
    committer._worker.proc.wait()
    committer.commit(s, {})
    with pytest.raises(RuntimeError, match="commit worker exited"):
        committer.wait()
    committer.close()
    _assert_same(restore_epoch(tmp_path, tokens[-1]), s)


def test_a_redo_file_replays_to_the_same_db_as_its_capture(tmp_path):
    """Growth, shrinking, a 0-d array, partial last chunks, vocab tails and extra keys."""
    from streamrec.online.model_state import ModelState
    from streamrec.state.disk import raw_items

    rng = np.random.default_rng(3)
    arrays = {"w": rng.random((37, 5)).astype("<f4"), "c": np.array(3), "wide": rng.random((20, 100))}
    s = ModelState(arrays, {"ids": ["a", "b"]}, {"n": 0})
    direct, replayed = ParamStore(tmp_path / "d", diff=True), ParamStore(tmp_path / "r")
    dirty = None
    for e in range(6):
        extra = ([(b"j/p/%03d" % e, b"x" * e), (b"j/meta", b"%d" % e)], [(b"j/p/000", b"j/p/%03d" % max(0, e - 2))])
        cap = direct.capture(s, dirty, extra)
        direct.apply(cap)
        path = tmp_path / f"e{e}.redo"
        redo.write(path, cap, e + 1)
        if e % 2:
            redo.seal(path)
        header, back = redo.read(path)
        replayed.apply(back)
        assert header["digest"] == cap.digest() == replayed.digest() == direct.digest()
        assert list(raw_items(direct.db)) == list(raw_items(replayed.db))
        rows = rng.choice(len(s.arrays["w"]), 5, replace=False)
        s.arrays["w"][rows] += 1.0
        s.arrays["wide"][e, e] = -1.0
        s.arrays["c"] = np.array(e)
        if e == 2:  # grow one array, shrink another
            s.arrays["w"] = np.concatenate([s.arrays["w"], rng.random((30, 5)).astype("<f4")])
            s.arrays["wide"] = s.arrays["wide"][:13].copy()
        s.vocab["ids"].append(f"id{e}")
        s.meta["n"] = e
        dirty = {"w": rows, "wide": np.array([e]), "c": np.array([0])}
    direct.close()
    replayed.close()


def test_a_redo_file_in_two_parts_replays_as_both_in_turn_and_is_torn_without_its_last(tmp_path):
    """An epoch with a pre-copy: its thread writes the first part, the commit appends the
    last. Read or sealed, the file leaves a DB as the two captures applied in turn would; the
    first part alone (a process killed before the commit) never reads as an epoch."""
    from streamrec.online.model_state import ModelState
    from streamrec.state.disk import raw_items

    rng = np.random.default_rng(5)
    s = ModelState({"w": rng.random((300, 8)).astype("<f4"), "c": np.zeros(3)}, {"ids": ["a"]}, {"n": 0})
    store, in_turn = ParamStore(tmp_path / "s", diff=True), ParamStore(tmp_path / "t", diff=True)
    base = store.capture(s)
    early = np.r_[0:40, 260:280]
    s.arrays["w"][early] += 1.0
    first = store.capture(s, {"w": early})
    s.arrays["w"][30:60] -= 3.0  # rows of both parts, and new ones
    s.arrays["w"] = s.arrays["w"][:250].copy()  # a shrink: the last part deletes chunks the first wrote
    s.vocab["ids"].append("b")
    s.meta["n"] = 1
    last = store.capture(s, {"w": np.arange(30, 60)})
    path = tmp_path / "e2.redo"
    after = redo.start(path, first, 2)
    with pytest.raises(redo.RedoError, match="torn"):
        redo.read(path.with_name(path.name + ".tmp"))
    assert not path.exists()
    size = redo.write(path, last, 2, after)
    assert path.stat().st_size == size > after
    for cap in (base, first, last):
        in_turn.apply(cap)
    for k, (header, back) in enumerate((redo.read(path), redo.seal(path))):
        assert header["digest"] == back.digest() == last.digest() and "more" not in header
        with ParamStore(tmp_path / f"r{k}", diff=True) as replayed:
            replayed.apply(base)
            replayed.apply(back)
            assert list(raw_items(replayed.db)) == list(raw_items(in_turn.db))
    store.close()
    in_turn.close()


def test_an_applied_redo_file_is_overwritten_in_place_by_a_later_one(tmp_path):
    """Recycling: the next write reuses the applied file's inode, a shorter capture after a
    longer one reads back exactly, and no more than ``KEEP_FREE`` applied files are kept."""
    from streamrec.online.model_state import ModelState

    big = ModelState({"w": np.arange(40_000, dtype="<f8")}, {}, {"n": 1})
    small = ModelState({"w": np.arange(10, dtype="<f8")}, {}, {"n": 2})
    store = ParamStore(tmp_path / "db")
    first = tmp_path / "e1.redo"
    redo.write(first, store.capture(big), 1)
    redo.seal(first)
    inode = first.stat().st_ino
    redo.recycle(first)
    assert not first.exists() and [p.name for p in tmp_path.glob("*.free")] == ["e1.redo.free"]
    second = tmp_path / "e2.redo"
    size = redo.write(second, store.capture(small), 2)
    assert second.stat().st_ino == inode and second.stat().st_size == size < 40_000 * 8
    assert not list(tmp_path.glob("*.free"))
    header, back = redo.read(second)
    replayed = ParamStore(tmp_path / "replayed")
    replayed.apply(back)
    assert header["epoch"] == 2 and np.array_equal(replayed.load().arrays["w"], small.arrays["w"])
    replayed.close()
    paths = [tmp_path / f"e{e}.redo" for e in range(3, 7)]
    for e, path in enumerate(paths, 3):
        redo.write(path, store.capture(small), e)
    for path in paths:  # applied files beyond KEEP_FREE are deleted
        redo.recycle(path)
    assert len(list(tmp_path.glob("*.free"))) == redo.KEEP_FREE
    store.close()


def test_sealing_hands_back_the_files_capture_and_seals_once(tmp_path):
    from streamrec.online.model_state import ModelState

    state = ModelState({"w": np.arange(1000, dtype="<f8")}, {"ids": ["a"]}, {"n": 1})
    cap = ParamStore(tmp_path / "db").capture(state)
    path = tmp_path / "e1.redo"
    size = redo.write(path, cap, 1)
    header, sealed = redo.seal(path)
    assert path.stat().st_size == size + 8 and header["epoch"] == 1
    assert sealed.digest() == cap.digest() and sealed.puts == cap.puts
    assert [bytes(r.data) for r in sealed.runs] == [bytes(r.data) for r in cap.runs]
    redo.seal(path)  # a second seal (a retried job) adds no second trailer
    assert path.stat().st_size == size + 8 and redo.read(path)[1].digest() == cap.digest()


def _first_commit_on_a_base(tmp_path, monkeypatch, store, committer, state, base: int) -> None:
    """``committer``'s first commit (the background dies before its checkpoint): a delta, and
    checkpoint ``base`` + its redo file restore ``state`` after a change of 5 rows."""

    def no_checkpoint(store, seq, keep_last):
        raise OSError("killed")

    monkeypatch.setattr(commit_worker, "checkpoint_epoch", no_checkpoint)
    full = sum(a.nbytes for a in state.arrays.values())
    state.arrays["w"][3000:3005] = -7.0
    state.vocab["ids"].append("b")
    state.meta["n"] += 1
    token = committer.commit(state, {"w": np.arange(len(state.arrays["w"]))})  # all dirty: a diff finds the rows
    assert token["epoch"] == base + 1
    assert committer.timings["redo_bytes"] < full / 20  # 3 chunks and meta, not the model
    with pytest.raises(RuntimeError, match="killed"):
        committer.wait()
    store.close()
    monkeypatch.undo()
    assert max(list_epochs(tmp_path)) == base and list_redo(tmp_path) == [base + 1]
    _assert_same(restore_epoch(tmp_path, token), state)


def _model(seed: int):
    from streamrec.online.model_state import ModelState

    rng = np.random.default_rng(seed)
    return ModelState({"w": rng.random((4000, 16)).astype("<f4")}, {"ids": ["a"]}, {"n": 0})


def test_a_committer_on_a_resumed_epoch_commits_a_delta_on_its_checkpoint(tmp_path, monkeypatch):
    s = _model(5)
    with ParamStore(tmp_path, wal=False, diff=True) as store:
        committer = EpochCommitter(store, worker=False)
        committer.commit(s, None)
        full_bytes = committer.timings["redo_bytes"]
        s.arrays["w"][:10] += 1.0
        token = committer.commit(s, {"w": np.arange(10)})
        committer.close()
    restore_epoch(tmp_path, token)  # as a resume does; then the step loads the store
    store = ParamStore(tmp_path, wal=False, diff=True)
    loaded = store.load()
    committer = EpochCommitter(store, worker=False, base_epoch=token["epoch"])
    _first_commit_on_a_base(tmp_path, monkeypatch, store, committer, loaded, token["epoch"])

    # a base that is not the newest epoch gets the full first commit of a fresh start
    with ParamStore(tmp_path, wal=False, diff=True) as store:
        state = store.load()
        committer = EpochCommitter(store, worker=False, base_epoch=token["epoch"])  # epoch 3 is newer
        committer.commit(state, {"w": np.arange(0)})
        committer.close()
        assert committer.timings["redo_bytes"] > full_bytes / 2


def test_a_fresh_start_checkpoints_its_saved_model_and_commits_deltas_on_it(tmp_path, monkeypatch):
    s = _model(6)
    store = ParamStore(tmp_path, wal=False, diff=True)
    store.save(s)  # the step's start-up save
    committer = EpochCommitter(store, worker=False, checkpoint_start=True)
    assert list_epochs(tmp_path) == [1] and list_redo(tmp_path) == []
    _first_commit_on_a_base(tmp_path, monkeypatch, store, committer, s, 1)


def test_a_redo_file_of_three_parts_replays_as_the_three_in_turn(tmp_path):
    """Two pre-copy rounds and the commit: each part holds rows of the parts before it too,
    and the file replays as the three captures in turn; without its last part it is torn."""
    from streamrec.online.model_state import ModelState
    from streamrec.state.disk import raw_items

    rng = np.random.default_rng(8)
    s = ModelState({"w": rng.random((400, 8)).astype("<f4")}, {"ids": ["a"]}, {"n": 0})
    store, in_turn = ParamStore(tmp_path / "s", diff=True), ParamStore(tmp_path / "t", diff=True)
    caps = [store.capture(s)]
    for k, rows in enumerate((np.r_[0:100], np.r_[50:150, 390:400], np.r_[140:160, 0:5])):
        s.arrays["w"][rows] += k + 1.0
        s.meta["n"] = k + 1
        caps.append(store.capture(s, {"w": rows}))
    path = tmp_path / "e2.redo"
    after = redo.start(path, caps[1], 2)
    after = redo.start(path, caps[2], 2, after)
    with pytest.raises(redo.RedoError, match="torn"):
        redo.read(path.with_name(path.name + ".tmp"))
    redo.write(path, caps[3], 2, after)
    for cap in caps:
        in_turn.apply(cap)
    header, back = redo.read(path)
    assert header["digest"] == caps[3].digest()
    with ParamStore(tmp_path / "r", diff=True) as replayed:
        replayed.apply(caps[0])
        replayed.apply(back)
        assert list(raw_items(replayed.db)) == list(raw_items(in_turn.db))
    store.close()
    in_turn.close()


def test_a_precopy_racing_with_writes_and_the_commit_after_it_restore_the_epoch_bitwise(tmp_path):
    """Rows written while the pre-copy runs (here: after it copied ``w``, when it asks for a
    buffer for ``c``) are dirty again; the commit's diff against the shadow the copy left
    keeps their final bytes. The epoch's one redo file holds both parts."""
    from streamrec.online.model_state import ModelState

    rng = np.random.default_rng(3)
    s = ModelState({"w": rng.random((20000, 16)).astype("<f4"), "c": np.zeros(3)}, {"ids": ["a"]}, {"n": 0})
    with ParamStore(tmp_path, wal=False, diff=True) as store:
        committer = EpochCommitter(store, worker=False)
        assert not committer.precopy(s, {"w": np.arange(5)})  # before the first (full) commit
        committer.commit(s, None)
        early = rng.choice(20000, 3000, replace=False)
        s.arrays["w"][early] += 1.0
        racing = early[:50]
        pool_alloc = committer.pool.allocator
        checked = threading.Event()

        def alloc_and_write(used):
            alloc = pool_alloc(used)

            def inner(n, dtype):
                checked.wait(10.0)  # the first round runs until the test has asked for another
                if n < 16:  # ``c``'s one chunk: ``w`` is copied already
                    s.arrays["w"][racing] -= 0.5  # the engine, meanwhile
                return alloc(n, dtype)

            return inner

        committer.pool.allocator = alloc_and_write
        assert committer.precopy(s, {"w": early, "c": np.array([0])})
        assert not committer.precopy(s, {"w": early})  # one round at a time
        checked.set()
        committer._pre.join()
        committer.pool.allocator = pool_alloc
        between = rng.choice(20000, 500, replace=False)  # changed during and after the first round
        s.arrays["w"][between] += 3.0
        assert committer.precopy(s, {"w": np.union1d(between, racing)})  # the second round
        late = rng.choice(20000, 100, replace=False)
        s.arrays["w"][late] *= 2.0
        s.meta["n"] = 1
        for _ in range(PRECOPY_ROUNDS - 2):
            committer._pre.join()
            assert committer.precopy(s, {"w": late})
        committer._pre.join()
        assert not committer.precopy(s, {"w": late})  # PRECOPY_ROUNDS per epoch at most
        s.arrays["w"][late[:10]] += 1.0
        token = committer.commit(s, {"w": late[:10]})
        assert committer.timings["precopy"] > 0.0 and committer._pre is None
        committer.close()
    _assert_same(restore_epoch(tmp_path, token), s)


def test_the_engine_steps_precopies_leave_epochs_that_restore_its_model_bitwise(tmp_path, monkeypatch):
    """The flow's step with tiny epochs: a pre-copy starts at the first batch of every epoch
    (its rows then change again), and each epoch restores to the model as it was."""
    import json as _json

    from bytewax.connectors.kafka import KafkaSourceMessage

    from streamrec.contract.config import RunConfig
    from streamrec.flows.engine_step import EngineLogic
    from streamrec.shell.traffic import ClickGenerator

    gen = ClickGenerator(n_users=60, n_items=300, seed=9)
    step = EngineLogic(RunConfig(state_dir=str(tmp_path), recovery=True, snapshot_interval_s=1e-6), None)
    started = []
    real = step.committer.precopy
    monkeypatch.setattr(step.committer, "precopy", lambda *a: started.append(real(*a)) or started[-1])
    tokens, models, offset = [], [], 0
    for _epoch in range(3):
        for _batch in range(3):
            values = [_json.dumps(gen.next_event()).encode() for _ in range(40)]
            step.on_batch([KafkaSourceMessage(None, v, "clicks", offset=offset + i) for i, v in enumerate(values)])
            offset += len(values)
        tokens.append(step.snapshot()["epoch"])
        models.append(step.model.export_state())
    step.committer.close()
    assert 3 <= started.count(True) <= 3 * PRECOPY_ROUNDS  # the first round of every epoch, maybe more
    for token, model in reversed(list(zip(tokens, models))):
        _assert_same(restore_epoch(tmp_path, token), model)
