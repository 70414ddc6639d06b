"""The process that writes committed epochs into RocksDB, so the flow's process never waits for it.

``rocksdict``'s ``Rdict.write`` and ``Checkpoint.create_checkpoint`` hold the GIL for their
whole duration (measured with a thread counting loop iterations meanwhile: a 51 MB batch
stopped it for 87 ms, a checkpoint of an unflushed memtable for 202 ms; ``Rdict.flush``
releases it), and the per-key ``WriteBatch.put`` loop is Python. Done in a thread of the
flow's process, an epoch's ~200k puts slowed the engine's batches ~1.7x for the seconds it
took. So a worker process owns the live DB while the flow runs:

    parent -> worker   {"seq": N, "keep_last": K}            (one JSON line)
    worker -> parent   {"seq": N, "timings": {...}} | {"seq": N, "error": "..."}

For each job, :func:`commit_redo`: seal the redo file ``epochs/e<N>.redo`` (CRC + fsync;
the one read of the file also gives its capture), apply it in ONE ``WriteBatch`` (so the
live DB moves epoch by epoch), flush (GIL-free), checkpoint ``epochs/e<N>`` (hard links only
after the flush), fsync, recycle the redo file (:func:`state.redo.recycle`), prune old
checkpoints. At EOF on its stdin (the parent stopped
or died) it finishes the job at hand, closes the DB and exits (it ignores SIGINT and SIGTERM,
which a terminal or service manager sends the whole process group); ``state.epochs`` waits for
the DB's lock before it restores anything, so it never races a worker still finishing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from streamrec.state import redo
from streamrec.state.disk import fsync_dir
from streamrec.state.epochs import checkpoint_epoch, redo_path
from streamrec.state.store import ParamStore

#: the worker's niceness: its RocksDB writes, flushes and compactions (about 1 s of a core
#: every few epochs) yield the CPU to the flow's thread, whose batches they otherwise delay
NICE = 10


def commit_redo(store: ParamStore, seq: int, keep_last: int) -> dict[str, float]:
    """Make epoch ``seq``'s redo file a checkpoint of ``store``; returns step -> seconds."""
    path, steps, t = redo_path(store.state_dir, seq), {}, time.perf_counter()
    _, cap = redo.seal(path)
    steps["bg_seal"] = time.perf_counter()
    store.apply(cap)
    steps["bg_apply"] = time.perf_counter()
    store.db.flush()  # the checkpoint then only links files
    steps["bg_flush"] = time.perf_counter()
    checkpoint_epoch(store, seq, keep_last)
    redo.recycle(path)
    fsync_dir(path.parent)
    steps["bg_checkpoint"] = time.perf_counter()
    out = {"background": steps["bg_checkpoint"] - t}
    for name, end in steps.items():
        out[name], t = end - t, end
    return out


def serve(state_dir: str, jobs: IO[str], replies: IO[str]) -> None:
    """Run jobs from ``jobs`` until EOF (see the module docstring)."""
    with ParamStore(state_dir, wal=False) as store:
        for line in jobs:
            job = json.loads(line)
            try:
                reply: dict[str, Any] = {"seq": job["seq"], "timings": commit_redo(store, job["seq"], job["keep_last"])}
            except Exception as exc:  # the parent raises it; the redo file stays for a restore
                reply = {"seq": job["seq"], "error": f"{type(exc).__name__}: {exc}"}
            replies.write(json.dumps(reply) + "\n")
            replies.flush()


class Worker:
    """A running commit worker for ``state_dir`` (whose DB no other handle may hold)."""

    def __init__(self, state_dir: Path) -> None:
        cmd = [sys.executable, "-m", "streamrec.state.commit_worker", str(state_dir)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def commit(self, seq: int, keep_last: int) -> dict[str, float]:
        """Send one job and wait for its reply (the GIL is free meanwhile); raises on failure."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"seq": seq, "keep_last": keep_last}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # reported below: no reply
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the commit worker exited (code {self.proc.poll()}) before epoch {seq} was written")
        reply = json.loads(line)
        if reply.get("seq") != seq or "error" in reply:
            raise RuntimeError(f"commit worker, epoch {seq}: {reply.get('error', reply)}")
        return reply["timings"]

    def close(self, timeout: float = 120.0) -> None:
        """Let the worker finish and exit (closing its stdin is its signal)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    # Ctrl-C / SIGTERM reach the whole process group: the worker finishes the parent's jobs
    # and leaves when the parent closes its stdin (or dies)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(NICE)
    serve(sys.argv[1], sys.stdin, sys.stdout)
