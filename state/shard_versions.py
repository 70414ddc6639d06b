"""Model versions of a sharded state directory: one version id for a set of shard versions.

The sharded flow keeps shard ``s`` in ``STATE/shard-<s>`` (a state directory of its own,
with its own ``versions/``). ``snapshot_set`` takes one version of every shard
(:func:`streamrec.state.versions.snapshot`) and writes one manifest
``STATE/versions/<id>.json`` listing them (``"shards": {"0": "v0003-...", ...}``); the set
id has the form of a version id, ``v<number:04d>-<8 hex>``, the hex the blake2b hash of the
members' content hashes in shard order. It refuses (before copying anything) when a shard
has no live DB. ``rollback_set`` is all or nothing: it first checks every shard (member
listed, its checkpoint's content equal to its manifest's hash, live DB not open by a
process), then rolls each shard back. The set is an exact cut of the cluster when the flow
is stopped; taken while it runs, each shard's copy is that shard's latest committed state
(shards may be one epoch apart) and the manifest says ``"flow_running": true``.

>>> import tempfile
>>> shard_count(tempfile.mkdtemp())
0
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from streamrec.state.disk import assert_not_open, live_db_path, write_atomic
from streamrec.state.run_topology import TOPOLOGY_FILE
from streamrec.state.versions import (
    CURRENT_FILE,
    VERSIONS_DIR,
    content_hash,
    is_version_id,
    list_versions,
    remove_version,
    rollback,
    snapshot,
)

_SHARD_DIR = re.compile(r"^shard-(\d{1,6})$")


def shard_dir(state_dir: str | Path, shard: int) -> Path:
    """Where the sharded flow keeps shard ``shard``'s model (``flows.shard_engine``)."""
    return Path(state_dir) / f"shard-{shard}"


def shard_count(state_dir: str | Path) -> int:
    """``S`` of a sharded state (the recorded run topology, or its ``shard-<s>`` dirs); 0 if unsharded."""
    state_dir = Path(state_dir)
    try:
        recorded = int(json.loads((state_dir / TOPOLOGY_FILE).read_text()).get("shards", 0))
    except (OSError, ValueError, AttributeError, TypeError):
        recorded = 0
    found = [int(m.group(1)) for p in state_dir.glob("shard-*") if (m := _SHARD_DIR.match(p.name)) and p.is_dir()]
    n = max(recorded, max(found, default=-1) + 1)
    return n if n > 1 or found else 0


def _is_open(db_path: Path) -> bool:
    try:
        assert_not_open(db_path)
    except RuntimeError:
        return True
    return False


def snapshot_set(state_dir: str | Path, label: str | None = None) -> dict[str, Any]:
    """Snapshot every shard; returns the set's manifest (raises ``FileNotFoundError`` if a shard has no model)."""
    state_dir = Path(state_dir)
    n = shard_count(state_dir)
    missing = [s for s in range(n) if not live_db_path(shard_dir(state_dir, s)).exists()]
    if missing:
        where = ", ".join(str(live_db_path(shard_dir(state_dir, s))) for s in missing)
        raise FileNotFoundError(f"{len(missing)} of {n} shards have no live model ({where}); nothing snapshotted")
    running = any(_is_open(live_db_path(shard_dir(state_dir, s))) for s in range(n))
    members: list[dict[str, Any]] = []
    try:
        for s in range(n):
            vid = snapshot(shard_dir(state_dir, s), label=label)
            members.append(next(v for v in list_versions(shard_dir(state_dir, s)) if v["id"] == vid))
    except BaseException:  # all or nothing: drop the members already taken
        for s, m in enumerate(members):
            remove_version(shard_dir(state_dir, s), m["id"])
        raise
    h = hashlib.blake2b("".join(m["content_hash"] for m in members).encode(), digest_size=16).hexdigest()
    number = max((v["number"] for v in list_sets(state_dir)), default=0) + 1
    events = [m["events_learned"] for m in members]
    vid = f"v{number:04d}-{h[:8]}"
    manifest: dict[str, Any] = {
        "id": vid,
        "number": number,
        "created": time.time(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "label": label,
        "shards": {str(s): m["id"] for s, m in enumerate(members)},
        "shard_events": events,
        "events_learned": sum(e for e in events if isinstance(e, int)),
        "content_hash": h,
        "bytes": sum(int(m["bytes"]) for m in members),
        "flow_running": running,
    }
    root = state_dir / VERSIONS_DIR
    root.mkdir(parents=True, exist_ok=True)
    write_atomic(root / f"{vid}.json", json.dumps(manifest, indent=1).encode())
    write_atomic(state_dir / CURRENT_FILE, vid.encode())
    return manifest


def list_sets(state_dir: str | Path) -> list[dict[str, Any]]:
    """Manifests of the version sets, oldest first."""
    root = Path(state_dir) / VERSIONS_DIR
    out = []
    for f in sorted(root.glob("v*.json")) if root.is_dir() else []:
        try:
            m = json.loads(f.read_text())
        except ValueError:
            continue
        if is_version_id(f.stem) and isinstance(m, dict) and isinstance(m.get("shards"), dict):
            out.append(m)
    return sorted(out, key=lambda m: m["number"])


def check_set(state_dir: str | Path, version: str) -> dict[str, Any]:
    """The manifest of set ``version`` if every shard can be rolled back to its member, else raise."""
    state_dir = Path(state_dir)
    if not is_version_id(version):
        raise ValueError(f"bad version id {version[:40]!r}; expected like v0003-1a2b3c4d")
    manifest = next((m for m in list_sets(state_dir) if m["id"] == version), None)
    if manifest is None:
        raise KeyError(f"unknown version set {version}")
    n = shard_count(state_dir)
    if sorted(manifest["shards"], key=int) != [str(s) for s in range(n)]:
        raise ValueError(
            f"version {version} holds shards {','.join(sorted(manifest['shards'], key=int))}, the state has {n}"
        )
    for key, member in manifest["shards"].items():
        d = shard_dir(state_dir, int(key))
        known = next((v for v in list_versions(d) if v["id"] == member), None)
        if known is None:
            raise KeyError(f"shard {key}: its member version {member} is gone")
        if content_hash(d / VERSIONS_DIR / member) != known["content_hash"]:
            raise ValueError(f"shard {key}: version {member} does not match its manifest hash")
        assert_not_open(live_db_path(d))
    return manifest


def rollback_set(state_dir: str | Path, version: str) -> dict[str, Any]:
    """Roll every shard back to its member of set ``version`` (all checked first); returns the manifest."""
    manifest = check_set(state_dir, version)
    for key, member in sorted(manifest["shards"].items(), key=lambda kv: int(kv[0])):
        rollback(shard_dir(state_dir, int(key)), member)
    write_atomic(Path(state_dir) / CURRENT_FILE, version.encode())
    return manifest
