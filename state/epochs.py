"""Recovery alignment with Bytewax snapshots: one RocksDB checkpoint per committed epoch.

When Bytewax asks the stateful step for a snapshot, the step calls
``commit_epoch(store, state, dirty)``: the dirty rows are saved (one atomic
batch) and a RocksDB checkpoint of the DB is taken in
``<state_dir>/epochs/e<seq:012d>`` (a flush + hard links: cost ~ the dirty
bytes, not the model size). The returned token -- a small JSON dict
``{"format", "epoch", "checkpoint", "digest"}`` -- is what the step hands to
Bytewax as its snapshot. On resume, ``restore_epoch(state_dir, token)``
installs a copy of that checkpoint as the live DB and returns its
``ModelState``: after a kill -9 at ANY moment the restored state equals the
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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.online.model_state import ModelState
from streamrec.state.disk import install_live
from streamrec.state.store import ParamStore

EPOCHS_DIR = "epochs"
TOKEN_FORMAT = 1
_CHECKPOINT = re.compile(r"^epochs/e(\d{12})$")


def list_epochs(state_dir: str | Path) -> list[int]:
    """Sequence numbers of the complete epoch checkpoints, ascending."""
    root = Path(state_dir) / EPOCHS_DIR
    if not root.is_dir():
        return []
    return sorted(int(p.name[1:]) for p in root.iterdir() if re.match(r"^e\d{12}$", p.name))


def _path(state_dir: Path, seq: int) -> Path:
    return state_dir / EPOCHS_DIR / f"e{seq:012d}"


def commit_epoch(
    store: ParamStore,
    state: ModelState,
    dirty: Mapping[str, np.ndarray] | None,
    keep_last: int = 4,
    extra: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None = None,
) -> dict[str, Any]:
    """Save ``state`` (dirty rows, or all if None; ``extra`` keys as in ``ParamStore.save``),
    checkpoint it, return the token."""
    if keep_last < 1:
        raise ValueError("keep_last must be >= 1")
    store.save(state, dirty, extra)
    root = store.state_dir / EPOCHS_DIR
    root.mkdir(exist_ok=True)
    for leftover in root.glob("*.tmp"):  # a checkpoint interrupted by a crash
        shutil.rmtree(leftover, ignore_errors=True)
    seqs = list_epochs(store.state_dir)
    seq = (seqs[-1] + 1) if seqs else 1
    store.checkpoint(_path(store.state_dir, seq))
    for old in seqs[: max(0, len(seqs) + 1 - keep_last)]:
        shutil.rmtree(_path(store.state_dir, old), ignore_errors=True)
    return {
        "format": TOKEN_FORMAT,
        "epoch": seq,
        "checkpoint": f"{EPOCHS_DIR}/e{seq:012d}",
        "digest": store.digest(),
    }


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

    Call it before opening the store (no process may have the DB open)."""
    state_dir = Path(state_dir)
    seq = check_token(token)
    src = _path(state_dir, seq)
    if not src.is_dir():
        raise FileNotFoundError(
            f"epoch checkpoint {src} is gone (pruned? raise keep_last above the epochs Bytewax may resume from)"
        )
    install_live(state_dir, src)
    with ParamStore(state_dir) as store:
        if store.digest() != token["digest"]:
            raise ValueError(f"epoch {seq}: checkpoint content does not match the token")
        state = store.load()
    if state is None:
        raise ValueError(f"epoch {seq}: checkpoint holds no model")
    for newer in list_epochs(state_dir):
        if newer > seq:  # epochs after the token were never committed by Bytewax
            shutil.rmtree(_path(state_dir, newer), ignore_errors=True)
    return state


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
    if (marker / "COMPLETE").is_file():
        install_live(state_dir, marker)
        for seq in list_epochs(state_dir):  # epochs of the crashed run were never committed
            shutil.rmtree(_path(state_dir, seq), ignore_errors=True)
        return True
    shutil.rmtree(marker, ignore_errors=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    with ParamStore(state_dir) as store:
        store.checkpoint(marker)
    (marker / "COMPLETE").write_bytes(b"")
    return False
