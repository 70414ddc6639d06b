"""Epoch commits off the event path: capture + redo file at the snapshot, RocksDB later.

``EpochCommitter.commit(state, dirty, extra)`` -- called where Bytewax takes a snapshot --
does only what must happen before the token may be handed out:

1. waits until fewer than ``max_pending`` earlier commits are in flight (backpressure;
   epochs are seconds apart and a commit normally finishes well within one) and re-raises
   the error of a failed one;
2. captures the epoch (``ParamStore.capture``: the changed chunks copied out of the live
   arrays, diffed against the store's shadow copy, into pooled buffers; the first commit of
   a committer writes everything, so its redo file needs no base -- see
   :func:`state.epochs.restore_epoch` -- unless the committer starts on a resumed epoch:
   ``base_epoch`` names the checkpoint the live DB was just restored from, untouched
   since, whose content the store's shadow and layout describe (``ParamStore.load``). Its
   first commit is then a delta on that checkpoint like every later one: what differs
   from it, not the whole model. On a fresh start, ``checkpoint_start`` makes such a base
   before the first epoch: the live DB (the store has just saved the whole model) is
   checkpointed as an epoch of its own, at start-up rather than inside the first epoch);
3. writes the redo file ``epochs/e<seq>.redo`` (:mod:`state.redo`: one sequential write
   into the page cache);

and returns the token ``{format, epoch, checkpoint, digest}`` (the digest of the capture's
layout + meta: what ``ParamStore.digest()`` gives once it is applied). Then a thread per
epoch, each starting after the previous one finished (epoch order), has the redo file turned
into the checkpoint ``epochs/e<seq>`` by :func:`state.commit_worker.commit_redo` (seal,
apply in one WriteBatch, flush, checkpoint, fsync, recycle the redo file, prune) -- in a
worker process that owns the live DB (``worker=True``, the default: rocksdict holds the GIL
while it writes), or in the thread itself (``worker=False``).

The threads are not daemons and the worker is stopped at exit after them: a clean stop
leaves every epoch in RocksDB. ``wait()`` waits explicitly and raises a commit's error.

Pre-copy: :meth:`EpochCommitter.precopy`, called late in an epoch, starts a thread that
captures the rows changed so far and writes them as the first part of the epoch's redo file
while events go on. Called again once that copy is done, it starts the next round: the rows
changed while the round before ran, as the next part (``PRECOPY_ROUNDS`` rounds at most). The
epoch's ``commit`` then captures only the rows changed since the last round started and
appends them as the file's last part (reading the file chains the parts:
:func:`state.capture.chain`), so the event path copies and writes a fraction of the epoch's
rows.

Guarantees: once ``commit`` returned, a kill of the process at any moment loses nothing:
``restore_epoch`` rebuilds the token's state bitwise from the newest checkpoint before it and
the redo files since. A machine crash loses nothing once the epoch's redo file is sealed or
its checkpoint taken -- normally tens to hundreds of ms after ``commit`` returned; a crash
inside that window can leave the token's redo file torn or unsealed, which
``restore_epoch`` reports (naming the file) instead of restoring a wrong state.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from streamrec.online.model_state import ModelState
from streamrec.state import redo
from streamrec.state.capture import Ops
from streamrec.state.commit_worker import Worker, commit_redo
from streamrec.state.epochs import checkpoint_epoch, epoch_path, next_epoch, redo_path, token_for
from streamrec.state.store import ParamStore

log = logging.getLogger("streamrec.state")
#: pre-copy rounds per epoch at most (each after the first copies what changed during the last)
PRECOPY_ROUNDS = 3


class BufferPool:
    """Reusable capture buffers: a commit's buffers come back once its redo file is written
    (fresh memory would cost a page fault per 4 KB on the event path)."""

    def __init__(self, keep: int = 256) -> None:
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.keep = keep

    def allocator(self, used: list[np.ndarray]) -> Callable[[int, Any], np.ndarray]:
        """An ``alloc(n, dtype)`` for one capture; the buffers it hands out are added to ``used``."""

        def alloc(n: int, dtype: Any) -> np.ndarray:
            nbytes = n * np.dtype(dtype).itemsize
            with self._lock:
                fits = [i for i, b in enumerate(self._free) if b.nbytes >= nbytes]
                buf = self._free.pop(min(fits, key=lambda i: self._free[i].nbytes)) if fits else None
            if buf is None:
                buf = np.empty(max(nbytes, 1), np.uint8)
            used.append(buf)
            return buf[:nbytes].view(dtype)

        return alloc

    def give_back(self, used: list[np.ndarray]) -> None:
        with self._lock:
            self._free = sorted(self._free + used, key=lambda b: b.nbytes)[-self.keep :]


class EpochCommitter:
    """Background epoch commits of ``store`` (see the module docstring). ``worker=True``: a
    :class:`state.commit_worker.Worker` process writes RocksDB (``store``'s DB handle is
    closed: the store only captures from then on); ``False``: a thread of this process does."""

    def __init__(
        self,
        store: ParamStore,
        keep_last: int = 4,
        max_pending: int = 1,
        worker: bool = True,
        on_commit: Callable[[int], None] | None = None,
        base_epoch: int | None = None,
        checkpoint_start: bool = False,
    ) -> None:
        if keep_last < 1 or max_pending < 1:
            raise ValueError("keep_last and max_pending must be >= 1")
        self.store, self.keep_last, self.max_pending, self.on_commit = store, keep_last, max_pending, on_commit
        self._threads: deque[threading.Thread] = deque()
        self._error: BaseException | None = None
        self._next = next_epoch(store.state_dir)
        base = base_epoch is not None and base_epoch == self._next - 1
        self._first = not (base and epoch_path(store.state_dir, self._next - 1).is_dir())
        if self._first and checkpoint_start:
            store.db.flush()  # the start-up save may sit in the memtable (no WAL with recovery)
            checkpoint_epoch(store, self._next, keep_last)
            self._next, self._first = self._next + 1, False
        self._worker: Worker | None = None
        if worker:
            store.close()
            self._worker = Worker(store.state_dir)
            atexit.register(self.close)  # after the interpreter joined the commit threads
        #: seconds of the last commit's steps: waiting for earlier ones, capture, redo file
        #: write (``redo_bytes`` its size), background work (seal, apply, flush, checkpoint)
        self.timings: dict[str, float] = {"background": 0.0}
        self.pool = BufferPool()
        self._pre: threading.Thread | None = None
        self._pre_size = 0
        self._rounds = 0  # pre-copies started in this epoch

    @property
    def precopy_ready(self) -> bool:
        """Whether :meth:`precopy` would start a round now."""
        return not (self._first or self._rounds >= PRECOPY_ROUNDS or (self._pre is not None and self._pre.is_alive()))

    def precopy(self, state: ModelState, dirty: Mapping[str, np.ndarray]) -> bool:
        """Start capturing ``dirty`` rows of ``state`` in a thread while events go on; the
        thread writes them as the next part of the epoch's redo file (``redo.start``), and
        the next :meth:`commit` captures only what changed since and appends it. The caller
        clears its dirty marks right after (before the model changes again): a row written
        while the copy runs is dirty again, so the next round or the commit diffs it against
        what the copy left in the store's shadow, which equals what the copy captured
        (``state.capture``), and keeps its final bytes. ``state`` must hold its own vocab
        lists and meta (``export_state`` gives copies). False (nothing started) before the
        first commit (it writes everything), while a round runs, or after ``PRECOPY_ROUNDS``."""
        if not self.precopy_ready:
            return False
        after = self._precopied()  # where the round before ended its part (0: none)
        self._raise()
        used: list[np.ndarray] = []
        alloc = self.pool.allocator(used)
        seq = self._next
        path = redo_path(self.store.state_dir, seq)
        path.parent.mkdir(exist_ok=True)

        def run() -> None:
            t = time.perf_counter()
            try:
                cap = self.store.capture(state, dirty, None, alloc)
                self._pre_size = redo.start(path, cap, seq, after)
                self.pool.give_back(used)
            except BaseException as exc:  # the shadow may be half updated: no more commits
                self._error = exc
            self.timings["precopy_more" if after else "precopy"] = time.perf_counter() - t

        self._pre = threading.Thread(target=run, name="epoch-precopy")
        self._pre.start()
        self._rounds += 1
        return True

    def commit(self, state: ModelState, dirty: Mapping[str, np.ndarray] | None, extra: Ops | None = None) -> dict:
        """Capture ``state`` and write its redo file; returns the epoch token."""
        t0 = time.perf_counter()
        while len(self._threads) >= self.max_pending or (self._threads and not self._threads[0].is_alive()):
            self._threads.popleft().join()
        after = self._precopied()  # where the pre-copies' parts of the redo file end
        self._rounds = 0
        self._raise()
        t1 = time.perf_counter()
        used: list[np.ndarray] = []
        cap = self.store.capture(state, None if self._first else dirty, extra, self.pool.allocator(used))
        self._first = False
        t2 = time.perf_counter()
        seq, self._next = self._next, self._next + 1
        path = redo_path(self.store.state_dir, seq)
        path.parent.mkdir(exist_ok=True)
        try:
            size = redo.write(path, cap, seq, after)
        except BaseException as exc:  # the shadow has moved past what is on disk: no more commits
            self._error = exc
            raise
        self.pool.give_back(used)  # the background reads the redo file, not the capture
        self.timings.update(wait=t1 - t0, capture=t2 - t1, redo=time.perf_counter() - t2, redo_bytes=size)
        prev = self._threads[-1] if self._threads else None
        th = threading.Thread(target=self._finish, args=(seq, prev), name=f"epoch-commit-{seq}")
        th.start()
        self._threads.append(th)
        return token_for(seq, cap.digest())

    def _precopied(self) -> int:
        """Wait for the pre-copy in flight, if any; where the redo file's part it wrote ends
        (0: none)."""
        if self._pre is None:
            return 0
        self._pre.join()
        self._pre, size, self._pre_size = None, self._pre_size, 0
        return size

    def busy(self) -> bool:
        """Whether a commit's background work is running."""
        return any(th.is_alive() for th in self._threads)

    def wait(self) -> None:
        """Wait for every commit in flight; raise the error of a failed one."""
        while self._threads:
            self._threads.popleft().join()
        self._raise()

    def close(self) -> None:
        """Wait for the commits in flight, then stop the worker (idempotent)."""
        if self._pre is not None:  # its capture is dropped: nothing commits after close
            self._pre.join()
        while self._threads:
            self._threads.popleft().join()
        if self._worker is not None:
            self._worker.close()

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"a background epoch commit failed: {self._error!r}") from self._error

    def _finish(self, seq: int, prev: threading.Thread | None) -> None:
        if prev is not None:
            prev.join()
        if self._error is not None:
            return
        try:
            if self._worker is not None:
                timings = self._worker.commit(seq, self.keep_last)
            else:
                timings = commit_redo(self.store, seq, self.keep_last)
        except BaseException as exc:  # kept for the next commit (or wait) to raise
            self._error = exc
            log.error("background commit of epoch %d failed (its redo file stays): %r", seq, exc)
            return
        self.timings.update(timings)
        if self.on_commit is not None:
            self.on_commit(seq)
