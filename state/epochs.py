"""Recovery alignment with Bytewax snapshots: one RocksDB checkpoint per committed epoch.

When Bytewax asks the stateful step for a snapshot, the step commits the epoch:
``commit_epoch(store, state, dirty)`` saves the dirty rows (one atomic batch) and
takes a RocksDB checkpoint of the DB in ``<state_dir>/epochs/e<seq:012d>`` (a
flush + hard links: cost ~ the dirty bytes, not the model size), all before it
returns; the flow uses :class:`state.epoch_commit.EpochCommitter`, which writes
the epoch's changes to a redo file ``epochs/e<seq:012d>.redo`` and makes the
checkpoint in the background. The returned token -- a small JSON dict
``{"format", "epoch", "checkpoint", "digest"}`` -- is what the step hands to
Bytewax as its snapshot. On resume, ``restore_epoch(state_dir, token)``
installs a copy of that checkpoint as the live DB (or, if the background had not
made it yet, the newest older checkpoint plus the redo files since) and returns
its ``ModelState``: after a kill -9 at ANY moment the restored state equals the
state at the token bitwise, whatever was written after it. Checkpoints newer
than the token (epochs Bytewax never committed) are dropped; only the last
``keep_last`` checkpoints are kept, so ``keep_last`` must cover the epochs
between Bytewax's last committed snapshot and the newest one (its
``backup_interval``; default 4 epochs).

>>> import tempfile, numpy as np
>>> from streamrec.online.model_state import ModelState
>>> from streamrec.state.store import ParamStore
>>> d = tempfile.mkdtemp(); s = ModelState({"w": np.zeros(4)}, {}, {"events": 0})
>>> with ParamStore(d) as store:
...     token = commit_epoch(store, s, None)
...     s.arrays["w"][2] = 7.0; s.meta["events"] = 1
...     _ = commit_epoch(store, s, {"w": np.array([2])})
>>> restore_epoch(d, token).arrays["w"].tolist()
[0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rocksdict

from streamrec.online.model_state import ModelState
from streamrec.state import redo
from streamrec.state.capture import Ops
from streamrec.state.disk import assert_not_open, fsync_dir, install_live, live_db_path, raw_options
from streamrec.state.store import ParamStore

EPOCHS_DIR = "epochs"
TOKEN_FORMAT = 1
_CHECKPOINT = re.compile(r"^epochs/e(\d{12})$")
_REDO = re.compile(r"^e(\d{12})\.redo$")


def list_epochs(state_dir: str | Path) -> list[int]:
    """Sequence numbers of the complete epoch checkpoints, ascending."""
    root = Path(state_dir) / EPOCHS_DIR
    if not root.is_dir():
        return []
    return sorted(int(p.name[1:]) for p in root.iterdir() if re.match(r"^e\d{12}$", p.name))


def list_redo(state_dir: str | Path) -> list[int]:
    """Epochs with a redo file (committed, not yet checkpointed: :mod:`state.epoch_commit`)."""
    root = Path(state_dir) / EPOCHS_DIR
    found = (_REDO.match(p.name) for p in root.iterdir()) if root.is_dir() else ()
    return sorted(int(m.group(1)) for m in found if m)


def epoch_path(state_dir: Path, seq: int) -> Path:
    return state_dir / EPOCHS_DIR / f"e{seq:012d}"


def redo_path(state_dir: Path, seq: int) -> Path:
    return state_dir / EPOCHS_DIR / f"e{seq:012d}.redo"


def next_epoch(state_dir: Path) -> int:
    """The sequence number of the next epoch (after every checkpoint and redo file)."""
    return max(list_epochs(state_dir) + list_redo(state_dir), default=0) + 1


def token_for(seq: int, digest: str) -> dict[str, Any]:
    return {"format": TOKEN_FORMAT, "epoch": seq, "checkpoint": f"{EPOCHS_DIR}/e{seq:012d}", "digest": digest}


def checkpoint_epoch(store: ParamStore, seq: int, keep_last: int) -> None:
    """Checkpoint the live DB as epoch ``seq`` (fsynced), prune all but the newest ``keep_last``."""
    root = store.state_dir / EPOCHS_DIR
    root.mkdir(exist_ok=True)
    for leftover in root.glob("*.tmp"):  # a checkpoint interrupted by a crash
        shutil.rmtree(leftover, ignore_errors=True)
    store.checkpoint(epoch_path(store.state_dir, seq))
    fsync_dir(epoch_path(store.state_dir, seq))
    fsync_dir(root)
    seqs = list_epochs(store.state_dir)
    for old in seqs[: max(0, len(seqs) - keep_last)]:
        shutil.rmtree(epoch_path(store.state_dir, old), ignore_errors=True)


def commit_epoch(
    store: ParamStore,
    state: ModelState,
    dirty: Mapping[str, np.ndarray] | None,
    keep_last: int = 4,
    extra: Ops | None = None,
) -> dict[str, Any]:
    """Save ``state`` (dirty rows, or all if None; ``extra`` keys as in ``ParamStore.save``),
    checkpoint it, return the token -- all before returning (the background variant is
    :class:`state.epoch_commit.EpochCommitter`)."""
    if keep_last < 1:
        raise ValueError("keep_last must be >= 1")
    store.save(state, dirty, extra)
    seq = next_epoch(store.state_dir)
    checkpoint_epoch(store, seq, keep_last)
    return token_for(seq, store.digest())


def wait_unlocked(state_dir: Path, timeout_s: float = 120.0) -> None:
    """Wait until no process holds the live DB: the commit worker of a stopped or killed run
    finishes its epoch first (:mod:`state.commit_worker`); raises ``RuntimeError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return assert_not_open(live_db_path(state_dir))
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def check_token(token: Any) -> int:
    """Validate a token (it comes back from Bytewax's recovery store); returns its epoch."""
    if not isinstance(token, Mapping) or token.get("format") != TOKEN_FORMAT:
        raise ValueError("not a streamrec epoch token")
    m = _CHECKPOINT.match(str(token.get("checkpoint", "")))
    if m is None or int(m.group(1)) != token.get("epoch") or not isinstance(token.get("digest"), str):
        raise ValueError(f"malformed epoch token {dict(token)!r:.200}")
    return int(m.group(1))


def restore_epoch(state_dir: str | Path, token: Mapping[str, Any]) -> ModelState:
    """Make the live DB equal the state at ``token`` and return that state.

    From checkpoint ``epochs/e<N>`` of the token's epoch N if it is complete, else from the
    newest checkpoint M < N (or an empty DB when the redo chain starts with a full capture)
    plus the redo files M+1..N applied in order; the result is then checkpointed as epoch N.
    A missing or torn redo file raises :class:`state.redo.RedoError` naming it. Checkpoints
    and redo files of later epochs (never committed by Bytewax) are dropped.
    Call it before opening the store (no process may have the DB open)."""
    state_dir = Path(state_dir)
    seq = check_token(token)
    wait_unlocked(state_dir)
    src = epoch_path(state_dir, seq)
    if src.is_dir():
        install_live(state_dir, src)
    else:
        _replay(state_dir, seq)
    with ParamStore(state_dir) as store:
        if store.digest() != token["digest"]:
            raise ValueError(f"epoch {seq}: checkpoint content does not match the token")
        state = store.load()
    if state is None:
        raise ValueError(f"epoch {seq}: checkpoint holds no model")
    for newer in list_epochs(state_dir):
        if newer > seq:  # epochs after the token were never committed by Bytewax
            shutil.rmtree(epoch_path(state_dir, newer), ignore_errors=True)
    _drop_redo(state_dir)  # <= seq: in the checkpoint; > seq: never committed
    return state


def _drop_redo(state_dir: Path) -> None:
    """Delete every redo file, also those a kill left half-written (only while nothing commits)."""
    for old in list_redo(state_dir):
        redo_path(state_dir, old).unlink(missing_ok=True)
    for torn in (state_dir / EPOCHS_DIR).glob("*.redo.tmp"):
        torn.unlink(missing_ok=True)


def _replay(state_dir: Path, seq: int) -> None:
    """Install the base (checkpoint ``seq``-k, or an empty DB under a full capture) and apply
    redo files ``seq``-k+1..``seq``; checkpoint the result as epoch ``seq``."""
    epochs, chain, e = set(list_epochs(state_dir)), [], seq
    if not redo_path(state_dir, seq).is_file():
        raise redo.RedoMissing(
            f"epoch checkpoint {epoch_path(state_dir, seq)} is gone and it has no redo file (pruned? raise "
            "keep_last above the epochs Bytewax may resume from)"
        )
    while True:
        chain.append(redo.read(redo_path(state_dir, e)))
        if e - 1 in epochs or chain[-1][1].full or e == 1:
            break
        e -= 1
    if e - 1 not in epochs and not chain[-1][1].full:
        raise redo.RedoError(f"epoch {seq}: no checkpoint before {redo_path(state_dir, e)} to apply it to")
    base = epoch_path(state_dir, e - 1) if e - 1 in epochs else state_dir / EPOCHS_DIR / "empty.tmp"
    if e - 1 not in epochs:
        shutil.rmtree(base, ignore_errors=True)
        rocksdict.Rdict(str(base), raw_options()).close()
    install_live(state_dir, base)
    with ParamStore(state_dir) as store:
        for header, cap in reversed(chain):
            store.apply(cap)
            if store.digest() != header["digest"]:
                raise redo.RedoError(f"epoch {header['epoch']}: state after its redo file does not match its digest")
        checkpoint_epoch(store, seq, keep_last=1 << 30)


def start_without_resume(state_dir: str | Path, marker_dir: str | Path) -> bool:
    """Align the live DB with a Bytewax run that has no committed snapshot yet.

    The first start of a recovery store checkpoints the live DB into
    ``marker_dir/streamrec-baseline`` (the model the run starts from). A later
    start that still gets no resume state means Bytewax never committed an epoch
    (a crash inside the first one) and will re-read its input from the start: the
    live DB is put back to the baseline so nothing is learned twice. Returns True
    when it rolled back. Call before opening the store.
    """
    state_dir, marker = Path(state_dir), Path(marker_dir) / "streamrec-baseline"
    wait_unlocked(state_dir)
    if (marker / "COMPLETE").is_file():
        install_live(state_dir, marker)
        for seq in list_epochs(state_dir):  # epochs of the crashed run were never committed
            shutil.rmtree(epoch_path(state_dir, seq), ignore_errors=True)
        _drop_redo(state_dir)
        return True
    shutil.rmtree(marker, ignore_errors=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    with ParamStore(state_dir) as store:
        store.checkpoint(marker)
    (marker / "COMPLETE").write_bytes(b"")
    return False
