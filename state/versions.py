"""Named model versions: RocksDB checkpoints + JSON manifests under ``<state_dir>/versions``.

``snapshot`` takes a consistent copy of the live DB into ``versions/<id>``
and writes ``versions/<id>.json`` (id, number, created, events learned, label,
content hash, bytes). Ids are ``v<number:04d>-<8 hex>`` where the hex is the
blake2b hash of every stored key and value, so ids sort by age and name the
exact content. ``rollback`` (only while no process has the DB open) installs a
copy of a version as the live DB and checks its content hash: afterwards
``ParamStore.load()`` equals the snapshot bit for bit. ``current_version`` is
the version the live model was last snapshotted as or rolled back to.

>>> import tempfile, numpy as np
>>> from streamrec.online.model_state import ModelState
>>> from streamrec.state.store import ParamStore
>>> d = tempfile.mkdtemp()
>>> with ParamStore(d) as store:
...     _ = store.save(ModelState({"w": np.ones(3)}, {}, {"events_learned": 10}))
>>> vid = snapshot(d, label="first")
>>> [v["label"] for v in list_versions(d)], current_version(d) == vid
(['first'], True)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import rocksdict

from streamrec.state.disk import disk_bytes, install_live, live_db_path, raw_items, raw_options, write_atomic
from streamrec.state.layout import META_KEY
from streamrec.state.store import ParamStore

VERSIONS_DIR = "versions"
CURRENT_FILE = "VERSION"
_ID = re.compile(r"^v(\d{4,})-([0-9a-f]{8})$")
_EVENT_KEYS = ("events_learned", "n_events", "events")


def is_version_id(text: str) -> bool:
    """Whether ``text`` has the form of a version id (``v0003-1a2b3c4d``)."""
    return _ID.match(text) is not None


def content_hash(db_path: str | Path) -> str:
    """blake2b over every (key, value) of a closed DB, in key order."""
    db = rocksdict.Rdict(str(db_path), raw_options(), access_type=rocksdict.AccessType.read_only())
    h = hashlib.blake2b(digest_size=16)
    try:
        for k, v in raw_items(db):
            h.update(len(k).to_bytes(4, "little") + k + len(v).to_bytes(8, "little"))
            h.update(v)
    finally:
        db.close()
    return h.hexdigest()


def _copy_live(state_dir: Path, dst: Path) -> None:
    """Consistent copy of the live DB: a checkpoint, or (if a running process holds it)
    an export of all keys of a read-only view into a fresh DB."""
    try:
        with ParamStore(state_dir) as store:
            store.checkpoint(dst)
        return
    except Exception as exc:
        if "lock" not in str(exc).lower():
            raise
    src = rocksdict.Rdict(str(live_db_path(state_dir)), raw_options(), access_type=rocksdict.AccessType.read_only())
    out = rocksdict.Rdict(str(dst), raw_options())
    try:
        wb = rocksdict.WriteBatch(raw_mode=True)
        for k, v in src.items():
            wb.put(k, v)
        out.write(wb)
        out.flush()
    finally:
        out.close()
        src.close()


def snapshot(state_dir: str | Path, label: str | None = None) -> str:
    """Freeze the live model as a new version; returns its id."""
    state_dir = Path(state_dir)
    root = state_dir / VERSIONS_DIR
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{time.time_ns()}"
    _copy_live(state_dir, tmp)
    digest = content_hash(tmp)
    number = max((v["number"] for v in list_versions(state_dir)), default=0) + 1
    vid = f"v{number:04d}-{digest[:8]}"
    meta = _read_meta(tmp)
    events = next((meta[k] for k in _EVENT_KEYS if isinstance(meta.get(k), int)), None)
    os.rename(tmp, root / vid)
    manifest = {
        "id": vid,
        "number": number,
        "created": time.time(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "events_learned": events,
        "label": label,
        "content_hash": digest,
        "bytes": disk_bytes(root / vid),
    }
    write_atomic(root / f"{vid}.json", json.dumps(manifest, indent=1).encode())
    write_atomic(state_dir / CURRENT_FILE, vid.encode())
    return vid


def _read_meta(db_path: Path) -> dict[str, Any]:
    db = rocksdict.Rdict(str(db_path), raw_options(), access_type=rocksdict.AccessType.read_only())
    try:
        raw = db.get(META_KEY)
    finally:
        db.close()
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def list_versions(state_dir: str | Path) -> list[dict[str, Any]]:
    """Manifests of the complete versions, oldest first."""
    root = Path(state_dir) / VERSIONS_DIR
    out = []
    for f in sorted(root.glob("v*.json")) if root.is_dir() else []:
        if _ID.match(f.stem) and (root / f.stem).is_dir():
            try:
                out.append(json.loads(f.read_text()))
            except ValueError:
                continue
    return sorted(out, key=lambda m: m["number"])


def rollback(state_dir: str | Path, version: str) -> None:
    """Make ``version`` the live model (raises if the DB is open or the id unknown)."""
    state_dir = Path(state_dir)
    if not _ID.match(version):
        raise ValueError(f"bad version id {version[:40]!r}; expected like v0003-1a2b3c4d")
    manifest = next((v for v in list_versions(state_dir) if v["id"] == version), None)
    if manifest is None:
        raise KeyError(f"unknown version {version}")
    new = install_live(state_dir, state_dir / VERSIONS_DIR / version)
    if content_hash(new) != manifest["content_hash"]:
        raise ValueError(f"version {version}: content does not match its manifest hash")
    write_atomic(state_dir / CURRENT_FILE, version.encode())


def current_version(state_dir: str | Path) -> str | None:
    """The version last snapshotted or rolled back to (None if none)."""
    try:
        vid = (Path(state_dir) / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return vid if _ID.match(vid) else None


def remove_version(state_dir: str | Path, version: str) -> None:
    """Delete a version's checkpoint and manifest."""
    if not _ID.match(version):
        raise ValueError(f"bad version id {version[:40]!r}")
    root = Path(state_dir) / VERSIONS_DIR
    (root / f"{version}.json").unlink(missing_ok=True)
    shutil.rmtree(root / version, ignore_errors=True)
