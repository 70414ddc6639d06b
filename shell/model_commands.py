"""``streamrec model snapshot|list|rollback VERSION|info --state DIR`` for the CLI.

``shell/cli.py`` calls ``add_model_parsers(sub)`` and then ``args.func(args)``;
``snapshot``, ``list`` and ``rollback`` print JSON (one object or one line per
version), ``info`` prints a readable summary (``--json`` for the machine form).
Exit codes: 0 ok, 1 refused/failed, 2 ``--state`` is not a state directory.
On a sharded state (``STATE/shard-<s>``, :mod:`streamrec.state.shard_versions`) each
command acts on the set of all shards: one version id per set, ``rollback`` all or nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from streamrec.shell.model_info import format_info, format_sharded_info, model_info, sharded_info
from streamrec.shell.usage_checks import UsageError, check_state_dir
from streamrec.state.disk import live_db_path
from streamrec.state.shard_versions import list_sets, rollback_set, shard_count, snapshot_set
from streamrec.state.versions import current_version, list_versions, rollback, snapshot


def _print(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=True))


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def _checked(func: Any) -> Any:
    """``func`` after checking that ``--state`` is an existing directory."""

    def run(args: argparse.Namespace) -> int:
        check_state_dir(args.state, must_exist=True)
        return func(args)

    return run


def cmd_snapshot(args: argparse.Namespace) -> int:
    if shard_count(args.state):
        try:
            m = snapshot_set(args.state, label=args.label)
        except FileNotFoundError as exc:
            return _fail(str(exc))
        _print({"version": m["id"], "label": args.label, "shards": m["shards"]})
        return 0
    if not live_db_path(args.state).exists():
        return _fail(f"no model in {args.state}")
    vid = snapshot(args.state, label=args.label)
    _print({"version": vid, "label": args.label})
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    current = current_version(args.state)
    for v in list_sets(args.state) if shard_count(args.state) else list_versions(args.state):
        _print({**v, "current": v["id"] == current})
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    members: dict[str, Any] = {}
    try:
        if shard_count(args.state):
            members = {"shards": rollback_set(args.state, args.version)["shards"]}
        else:
            rollback(args.state, args.version)
    except (KeyError, ValueError, RuntimeError) as exc:
        return _fail(str(exc).strip("'\""))
    # a resumed flow would restore its last epoch over the rolled-back model: start the
    # Bytewax recovery store afresh (input offsets restart with it); the sharded flow keeps
    # the whole cluster's store there too, with each shard's start-up baseline in shard-<s>/
    recovery = Path(args.state) / "recovery"
    shutil.rmtree(recovery, ignore_errors=True)
    _print({"rolled_back_to": args.version, "recovery_reset": str(recovery), **members})
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if shard_count(args.state):
        info, text = sharded_info(args.state), format_sharded_info
    else:
        try:
            info, text = model_info(args.state), format_info
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None
    if args.json:
        _print(info)
    else:
        print(text(info))
    return 0


def add_model_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``model`` with its sub-commands on an argparse sub-parsers object."""
    model = subparsers.add_parser("model", help="model versions in the RocksDB state store")
    sub = model.add_subparsers(dest="model_cmd", required=True)

    def add(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--state", required=True, help="state directory (holds the live DB)")
        p.set_defaults(func=_checked(func))
        return p

    add("snapshot", cmd_snapshot, "freeze the live model as a new version").add_argument(
        "--label", default=None, help="free text stored in the manifest"
    )
    add("list", cmd_list, "list versions, oldest first (JSON lines)")
    add("rollback", cmd_rollback, "make VERSION the live model (stop the flow first)").add_argument(
        "version", help="version id, e.g. v0003-1a2b3c4d"
    )
    add("info", cmd_info, "model version, settings, sizes, versions, disk usage").add_argument(
        "--json", action="store_true", help="everything (arrays, meta) as one JSON object"
    )
    return model
