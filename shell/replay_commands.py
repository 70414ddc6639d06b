"""Prequential (test-then-learn) replay of a click log against the engine and the baselines.

    streamrec replay LOG [--format auto|jsonl|movielens] [--stride N]
                         [--models engine,popularity,decayed,transitions,river-fm,river-mf]
                         [--model-config FILE.toml] [--model-set KEY=VALUE ...]
                         [--river-max-events N] [--chunk N] [--out metrics.json] [--report DIR]
                         [--shards S[,S...] --sync-every T[,T...]]

Each event is first scored (the rank of the clicked item), then learned from.
--model-config / --model-set set the engine's settings (RecommenderConfig fields),
as for `streamrec run`. --shards replaces the engine by user-sharded engines that exchange
deltas every --sync-every events (one per S, T pair; the HR@10 curve over T is printed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamrec.replay.prequential import PrequentialModel
from streamrec.shell.usage_checks import UsageError, add_model_args
from streamrec.state.settings import check_config, requested_settings

DEFAULT_MODELS = "engine,popularity,decayed,transitions,item-knn,vsknn"
MODEL_NAMES = (
    "engine",
    "popularity",
    "decayed",
    "transitions",
    "item-knn",
    "vsknn",
    "sknn",
    "ease",
    "ease-trans",
    "river-fm",
    "river-mf",
)


def load_events(path: str | Path, fmt: str = "auto") -> tuple[list, Any]:
    """Events in event-time order and the read summary; ``auto`` picks MovieLens for .zip/.csv/u.data."""
    p = Path(path)
    if fmt == "auto":
        is_ml = p.suffix in (".zip", ".csv") or p.name.startswith("u.data")
        fmt = "movielens" if is_ml else "jsonl"
    if fmt == "movielens":
        from streamrec.replay.movielens import read_movielens

        return read_movielens(p)
    from streamrec.replay.log_reader import read_jsonl

    return read_jsonl(p)


def build_model(name: str, river_max_events: int | None = None, engine_config: Any = None) -> PrequentialModel:
    """A fresh model by CLI name (the engine with ``engine_config``, a ``RecommenderConfig``)."""
    from streamrec.replay import baselines

    factories: dict[str, Callable[[], Any]] = {
        "popularity": baselines.Popularity,
        "decayed": baselines.DecayedPopularity,
        "transitions": baselines.Transitions,
        "item-knn": baselines.ItemKNN,
        "vsknn": baselines.VSKNN,
        "sknn": baselines.SKNN,
        "ease": baselines.EASE,
        "ease-trans": baselines.EASETransitions,
        "river-fm": lambda: baselines.RiverFM(max_events=river_max_events),
        "river-mf": lambda: baselines.RiverMF(max_events=river_max_events),
    }
    if name == "engine":
        from streamrec.online.recommender import (
            Recommender,  # lazy: loads the numba kernels
        )

        return Recommender(engine_config)
    if name not in factories:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return factories[name]()


def build_models(
    names: list[str],
    river_max_events: int | None = None,
    warn: Callable[[str], None] = print,
    engine_config: Any = None,
) -> list[PrequentialModel]:
    """Models for the names; a missing engine is reported through ``warn`` and skipped."""
    models = []
    for name in names:
        try:
            models.append(build_model(name, river_max_events, engine_config))
        except ImportError as exc:
            warn(
                f"engine unavailable: cannot import streamrec.online.recommender.Recommender ({exc}); "
                "replaying the other models only"
            )
    return models


def warm_up(names: list[str], events: list, n: int = 1000, engine_config: Any = None) -> None:
    """Replay the first ``n`` events through throwaway models so JIT compilation/cache loading
    is not billed to the measured replay (River models have no JIT and are skipped)."""
    from streamrec.replay.prequential import run_prequential
    from streamrec.shell.compile_ahead import compile_ahead

    if "engine" in names:
        compile_ahead(lambda line: print(line, file=sys.stderr, flush=True))
    jitted = [
        m
        for m in build_models(
            [x for x in names if not x.startswith("river")], warn=lambda _: None, engine_config=engine_config
        )
    ]
    if jitted and events:
        run_prequential(events[:n], jitted, stride=1, chunk=max(n // 2, 1))


def _shard_grid(args: argparse.Namespace) -> list[tuple[int, int]]:
    """(S, T) pairs of --shards x --sync-every; empty without --shards."""
    if not args.shards:
        return []
    try:
        shards = [int(x) for x in args.shards.split(",")]
        syncs = [int(x) for x in args.sync_every.split(",")]
    except ValueError:
        raise UsageError("--shards and --sync-every take comma-separated integers") from None
    if min(shards) < 1 or min(syncs) < 1:
        raise UsageError("--shards and --sync-every must be >= 1")
    return [(s, t) for s in shards for t in syncs]


def run_replay(args: argparse.Namespace) -> int:
    """Entry point of ``streamrec replay``."""
    from streamrec.replay.prequential import run_prequential
    from streamrec.replay.report import format_table, write_metrics, write_report

    def warn(msg: str) -> None:
        print(msg, file=sys.stderr)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    bad = [n for n in names if n not in MODEL_NAMES]
    if bad:
        raise UsageError(
            f"--models {args.models}: unknown model(s) {', '.join(bad)}; allowed: {', '.join(MODEL_NAMES)}"
        )
    grid = _shard_grid(args)
    engine_config = check_config(requested_settings(args.model_config or "", args.model_set or []))
    t0 = time.perf_counter()
    try:
        events, summary = load_events(args.log, args.format)
    except (OSError, ValueError) as exc:
        warn(f"cannot read {args.log}: {exc}")
        return 2
    print(
        f"read {summary.n_valid} events ({summary.n_invalid} invalid {summary.invalid}) "
        f"from {args.log} in {time.perf_counter() - t0:.1f}s"
    )
    models = build_models(names, args.river_max_events, warn, engine_config)
    if grid and "engine" in names:
        from streamrec.replay.sharded import ShardedEngine

        models = [m for m in models if m.name != "streamrec-fm"]
        models += [ShardedEngine(engine_config, s, t) for s, t in grid]
    if not events or not models:
        warn("nothing to replay")
        return 1
    warm_up(names, events, engine_config=engine_config)
    from streamrec.shell.progress import Progress

    total = sum(min(len(events), int(getattr(m, "max_events", None) or len(events))) for m in models)
    with Progress("replay", total=total, unit="model-events") as bar:
        result = run_prequential(events, models, stride=args.stride, chunk=args.chunk, progress=bar.update)
    print(f"prequential replay: {result.n_events} events, stride {args.stride}, {int(result.evaluate.sum())} evaluated")
    print(format_table(result))
    if grid and "engine" in names:
        from streamrec.replay.sharded import curve_table

        hr = {
            (getattr(m, "n_shards"), getattr(m, "sync_every")): result.models[m.name].all.hr  # noqa: B009
            for m in models
            if hasattr(m, "n_shards")
        }
        print("HR@10 of user-sharded engines (rows: --sync-every, columns: --shards)")
        print(curve_table(hr))
    extra = {"log": str(args.log), "read": summary.to_dict()}
    if "engine" in names:
        extra["engine_settings"] = engine_config.to_dict()
    if args.out:
        print(f"metrics -> {write_metrics(result, args.out, extra)}")
    if args.report:
        files = write_report(result, args.report, extra)
        print("report -> " + ", ".join(str(p) for p in files.values()))
    return 0


def add_replay_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``replay`` on an argparse subparsers object; sets ``func=run_replay``."""
    p = subparsers.add_parser(
        "replay",
        help="prequential (test-then-learn) replay of a click log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("log", help="JSONL(.gz) click log in the event contract, or ML-100K zip/csv/u.data")
    p.add_argument("--format", choices=("auto", "jsonl", "movielens"), default="auto")
    p.add_argument("--stride", type=int, default=1, help="evaluate events with index %% N == 0")
    p.add_argument(
        "--models",
        default=DEFAULT_MODELS,
        help=f"comma-separated, from {','.join(MODEL_NAMES)} (default {DEFAULT_MODELS})",
    )
    p.add_argument(
        "--river-max-events",
        type=int,
        default=None,
        help="replay River models on the first N events only (they run ~1k events/s)",
    )
    p.add_argument("--chunk", type=int, default=5000, help="events per evaluate_and_learn call")
    add_model_args(p)
    p.add_argument(
        "--shards", default=None, help="replay the engine as S user-sharded engines (comma list for a curve)"
    )
    p.add_argument(
        "--sync-every", default="1000", help="events between delta exchanges of the shards (comma list; default 1000)"
    )
    p.add_argument("--out", default=None, help="write metrics JSON here")
    p.add_argument("--report", default=None, help="write metrics.json and PNG plots into this dir")
    p.set_defaults(func=run_replay)
    return p
