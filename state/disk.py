"""The state directory on disk: live-DB pointer, checkpoint copies, sizes.

Layout of a state directory::

    <state_dir>/LIVE            name of the live RocksDB dir (absent -> "db")
    <state_dir>/db | db-000007  the live RocksDB database
    <state_dir>/epochs/e...     per-epoch checkpoints (state.epochs)
    <state_dir>/versions/v...   named model versions (state.versions)

Replacing the live database (rollback, epoch restore) never modifies it in
place: the checkpoint is copied to a fresh ``db-<n>`` dir (immutable ``.sst``
files hard-linked, everything else copied), fsynced, and ``LIVE`` is switched
with an atomic ``os.replace``. A crash at any moment leaves ``LIVE`` naming a
complete database, either the old or the new one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import rocksdict

LIVE_FILE = "LIVE"
DEFAULT_LIVE = "db"
_LIVE_NAME = re.compile(r"^db(-\d{6})?$")
_IMMUTABLE = (".sst", ".blob")


L0_COMPACTION_FILES = 12


def raw_options() -> rocksdict.Options:
    """Options for every DB of the store: raw bytes keys/values, created if missing.

    Level-0 compaction waits for 12 files instead of 4: every epoch commit flushes one
    level-0 file of the epoch's changed chunks, and each compaction rewrites the whole
    model (~0.6-1 s of a core at 20k items). Merging 12 epochs at a time instead of 4 cut
    the commit worker's CPU from 7.4 to 5.6 s over 80k steady events committed every 5k
    (the flow's engine step driven in-process at 20k items; two runs of each gave the same)."""
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.set_level_zero_file_num_compaction_trigger(L0_COMPACTION_FILES)
    return opts


def raw_items(db: rocksdict.Rdict, from_key: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs, in key order from ``from_key``, of a DB opened with ``raw_options()``.

    In raw mode both are ``bytes``; rocksdict's stub types keys as any scalar, hence the cast.
    """
    return cast(Iterator[tuple[bytes, bytes]], db.items(from_key=from_key))


def live_db_path(state_dir: str | Path) -> Path:
    """Path of the live RocksDB directory named by ``<state_dir>/LIVE``."""
    state_dir = Path(state_dir)
    try:
        name = (state_dir / LIVE_FILE).read_text().strip()
    except FileNotFoundError:
        return state_dir / DEFAULT_LIVE
    if not _LIVE_NAME.match(name):
        raise ValueError(f"{state_dir / LIVE_FILE} names an invalid dir {name[:40]!r}")
    return state_dir / name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a small file so readers see the old or the new content, never a torn one."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def copy_db_dir(src: Path, dst: Path) -> None:
    """Copy a closed DB/checkpoint: hard-link immutable table files, copy the rest."""
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.name == "LOCK" or f.name.startswith("LOG") or not f.is_file():
            continue
        target = dst / f.name
        if f.suffix in _IMMUTABLE:
            try:
                os.link(f, target)
                continue
            except OSError:
                pass
        shutil.copy2(f, target)
        with open(target, "rb+") as fh:
            os.fsync(fh.fileno())
    fsync_dir(dst)


def assert_not_open(db_path: Path) -> None:
    """Raise ``RuntimeError`` if another handle holds the RocksDB lock of ``db_path``."""
    if not db_path.exists():
        return
    try:
        db = rocksdict.Rdict(str(db_path), raw_options())
    except Exception as exc:  # rocksdict raises a bare Exception on lock errors
        raise RuntimeError(f"state DB {db_path} is open by a running process: {exc}") from None
    db.close()


def install_live(state_dir: str | Path, checkpoint: Path) -> Path:
    """Make a copy of ``checkpoint`` the live DB (only while nobody has the DB open)."""
    state_dir = Path(state_dir)
    old = live_db_path(state_dir)
    assert_not_open(old)
    used = [int(p.name[3:]) for p in state_dir.glob("db-*") if _LIVE_NAME.match(p.name)]
    new = state_dir / f"db-{max(used, default=0) + 1:06d}"
    copy_db_dir(Path(checkpoint), new)
    write_atomic(state_dir / LIVE_FILE, new.name.encode())
    for p in [state_dir / DEFAULT_LIVE, *state_dir.glob("db-*")]:
        if p != new and p.is_dir() and _LIVE_NAME.match(p.name):
            shutil.rmtree(p, ignore_errors=True)
    return new


def disk_bytes(*paths: Path) -> int:
    """Bytes on disk under ``paths``, counting hard-linked files once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in paths:
        if not root.exists():
            continue
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def state_size_bytes(state_dir: str | Path) -> dict[str, int]:
    """Disk usage for monitoring: live DB, epoch checkpoints, versions, and the total
    (hard links shared between them counted once)."""
    state_dir = Path(state_dir)
    live = live_db_path(state_dir)
    epochs, versions = state_dir / "epochs", state_dir / "versions"
    return {
        "live": disk_bytes(live),
        "epochs": disk_bytes(epochs),
        "versions": disk_bytes(versions),
        "total": disk_bytes(live, epochs, versions),
    }
