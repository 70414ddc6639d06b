"""``streamrec model snapshot|list|rollback VERSION|info --state DIR`` for the CLI.

``streamrec/cli.py`` calls ``add_model_parsers(sub)`` and then ``args.func(args)``;
each command prints JSON (one object or one line per version) and returns an
exit code (0 ok, 1 refused/failed with a message on stderr).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from streamrec.state.disk import live_db_path, state_size_bytes
from streamrec.state.epochs import list_epochs
from streamrec.state.store import ParamStore
from streamrec.state.versions import current_version, list_versions, rollback, snapshot


def _print(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=True))


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def cmd_snapshot(args: argparse.Namespace) -> int:
    if not live_db_path(args.state).exists():
        return _fail(f"no model in {args.state}")
    vid = snapshot(args.state, label=args.label)
    _print({"version": vid, "label": args.label})
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    current = current_version(args.state)
    for v in list_versions(args.state):
        _print({**v, "current": v["id"] == current})
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    try:
        rollback(args.state, args.version)
    except (KeyError, ValueError, RuntimeError) as exc:
        return _fail(str(exc).strip("'\""))
    # a resumed flow would restore its last epoch over the rolled-back model: start the
    # Bytewax recovery store afresh (input offsets restart with it)
    recovery = Path(args.state) / "recovery"
    shutil.rmtree(recovery, ignore_errors=True)
    _print({"rolled_back_to": args.version, "recovery_reset": str(recovery)})
    return 0


def model_info(state_dir: str) -> dict[str, Any]:
    """Arrays (dtype, shape), vocab sizes, meta, versions, epochs, disk usage."""
    if not live_db_path(state_dir).exists():
        raise FileNotFoundError(f"no model in {state_dir}")
    try:
        store = ParamStore(state_dir)
    except Exception as exc:  # held by a running process: read a read-only view
        if "lock" not in str(exc).lower():
            raise
        store = ParamStore(state_dir, read_only=True)
    with store:
        state = store.load()
        digest = store.digest()
    info: dict[str, Any] = {
        "state_dir": str(state_dir),
        "live_db": str(live_db_path(state_dir)),
        "current_version": current_version(state_dir),
        "versions": len(list_versions(state_dir)),
        "epochs": list_epochs(state_dir),
        "digest": digest,
        "disk_bytes": state_size_bytes(state_dir),
    }
    if state is not None:
        info["arrays"] = {n: {"dtype": a.dtype.str, "shape": list(a.shape)} for n, a in state.arrays.items()}
        info["vocab"] = {n: len(v) for n, v in state.vocab.items()}
        info["meta"] = state.meta
    return info


def cmd_info(args: argparse.Namespace) -> int:
    try:
        _print(model_info(args.state))
    except FileNotFoundError as exc:
        return _fail(str(exc))
    return 0


def add_model_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``model`` with its sub-commands on an argparse sub-parsers object."""
    model = subparsers.add_parser("model", help="model versions in the RocksDB state store")
    sub = model.add_subparsers(dest="model_cmd", required=True)

    def add(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--state", required=True, help="state directory (holds the live DB)")
        p.set_defaults(func=func)
        return p

    add("snapshot", cmd_snapshot, "freeze the live model as a new version").add_argument(
        "--label", default=None, help="free text stored in the manifest"
    )
    add("list", cmd_list, "list versions, oldest first (JSON lines)")
    add("rollback", cmd_rollback, "make VERSION the live model (stop the flow first)").add_argument(
        "version", help="version id, e.g. v0003-1a2b3c4d"
    )
    add("info", cmd_info, "arrays, vocab sizes, meta, versions, disk usage")
    return model
