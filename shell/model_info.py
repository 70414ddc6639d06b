"""``streamrec model info``: what is in a state directory, for people (default) or as JSON.

The model version reads ``VERSION+N`` as in the recommendations: ``VERSION`` the
current snapshot (``v0000`` before the first), ``N`` the events learned in the
model's whole life. A sharded state (``STATE/shard-<s>``) is shown shard by shard
(:func:`sharded_info`), each shard's version, events and disk, and their totals.

>>> print(format_settings({"k": 32, "lr": 0.1}))
settings   k=32 (default 16)
           all others default (lr=0.1)
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from streamrec.online.config import RecommenderConfig
from streamrec.state.disk import live_db_path, state_size_bytes
from streamrec.state.epochs import list_epochs
from streamrec.state.shard_versions import list_sets, shard_count, shard_dir
from streamrec.state.store import ParamStore
from streamrec.state.versions import current_version, list_versions


def model_info(state_dir: str) -> dict[str, Any]:
    """Arrays (dtype, shape), vocab sizes, meta, versions, epochs, disk usage."""
    if not live_db_path(state_dir).exists():
        raise FileNotFoundError(f"--state {state_dir}: no model in this directory (nothing learned yet?)")
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
        info["model_version"] = f"{info['current_version'] or 'v0000'}+{int(state.meta.get('n_events', 0))}"
    return info


def format_settings(settings: dict[str, Any]) -> str:
    """The model settings: those that differ from the defaults first, then the rest."""
    defaults = RecommenderConfig().to_dict()
    changed = [f"{k}={v!r} (default {defaults[k]!r})" for k, v in settings.items() if defaults.get(k) != v]
    same = [f"{k}={v!r}" for k, v in settings.items() if defaults.get(k) == v]
    lines = changed + ([f"all others default ({', '.join(same)})"] if same else [])
    wrapped = [w for line in lines for w in textwrap.wrap(line, 88, subsequent_indent="  ")]
    return "\n".join(("settings   " if i == 0 else "           ") + w for i, w in enumerate(wrapped))


def format_info(info: dict[str, Any]) -> str:
    """Multi-line, human-readable :func:`model_info`."""
    mb = {k: v / 1e6 for k, v in info["disk_bytes"].items()}
    meta = info.get("meta", {})
    lines = [
        f"state      {info['state_dir']} (live database {info['live_db']})",
        f"model      {info.get('model_version', 'empty: nothing learned yet')}",
    ]
    if meta:
        lines.append(
            f"learned    {meta.get('n_events', 0)} events, {meta.get('n_users', 0)} users, "
            f"{meta.get('n_items', 0)} items; drift detections {meta.get('drift_count', 0)}"
        )
    lines += [
        (
            f"versions   {info['versions']} (current {info['current_version'] or 'none'}); "
            f"epochs kept {len(info['epochs'])}"
        ),
        (
            f"disk       {mb['total']:.1f} MB (live {mb['live']:.1f}, epochs {mb['epochs']:.1f}, "
            f"versions {mb['versions']:.1f})"
        ),
        f"digest     {info['digest']}",
    ]
    if "config" in meta:
        raw = meta["config"]
        lines.append(format_settings(json.loads(raw) if isinstance(raw, str) else dict(raw)))
    return "\n".join(lines)


def sharded_info(state_dir: str) -> dict[str, Any]:
    """Per shard: :func:`model_info` (or ``{"missing": true}``); totals; the current version set."""
    shards: list[dict[str, Any]] = []
    for s in range(shard_count(state_dir)):
        try:
            one = model_info(str(shard_dir(state_dir, s)))
        except FileNotFoundError:
            one = {"state_dir": str(shard_dir(state_dir, s)), "missing": True}
        shards.append({"shard": s, "events": int(one.get("meta", {}).get("n_events", 0)), **one})
    return {
        "state_dir": str(state_dir),
        "current_version": current_version(state_dir),
        "versions": len(list_sets(state_dir)),
        "shards": shards,
        "total_events": sum(s["events"] for s in shards),
        "total_disk_bytes": sum(s["disk_bytes"]["total"] for s in shards if "disk_bytes" in s),
    }


def format_sharded_info(info: dict[str, Any]) -> str:
    """Multi-line, human-readable :func:`sharded_info`: one line per shard, then the totals."""
    lines = [
        f"state      {info['state_dir']} ({len(info['shards'])} shards)",
        f"versions   {info['versions']} sets (current {info['current_version'] or 'none'})",
    ]
    for s in info["shards"]:
        if s.get("missing"):
            lines.append(f"shard {s['shard']:<4} no model in {s['state_dir']}")
            continue
        lines.append(
            f"shard {s['shard']:<4} {s.get('model_version', 'empty'):<24} {s['events']:>12,} events "
            f"{s['disk_bytes']['total'] / 1e6:>9.1f} MB"
        )
    lines.append(f"total      {'':<24} {info['total_events']:>12,} events {info['total_disk_bytes'] / 1e6:>9.1f} MB")
    return "\n".join(lines)
