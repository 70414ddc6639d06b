"""``streamrec replay``: prequential replay of a log against the engine and the baselines.

    streamrec replay LOG [--format auto|jsonl|movielens] [--stride N]
                         [--models engine,popularity,decayed,transitions,river-fm,river-mf]
                         [--river-max-events N] [--chunk N] [--out metrics.json] [--report DIR]

Registered by the lead's CLI: ``add_replay_parser(sub)`` then ``args.func(args)`` (returns an
exit code). The engine (``online.recommender.Recommender``) is imported lazily; when it is
missing the replay says so and runs the other models.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

from streamrec.replay.prequential import PrequentialModel

DEFAULT_MODELS = "engine,popularity,decayed,transitions,item-knn,vsknn"
MODEL_NAMES = ("engine", "popularity", "decayed", "transitions", "item-knn", "vsknn", "sknn", "ease",
               "ease-trans", "river-fm", "river-mf")


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


def build_model(name: str, river_max_events: int | None = None) -> PrequentialModel:
    """A fresh model by CLI name; raises ImportError if the engine is not installed."""
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
        from streamrec.online.recommender import Recommender  # lazy: the engine is optional here

        return Recommender()
    if name not in factories:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return factories[name]()


def build_models(names: list[str], river_max_events: int | None = None,
                 warn: Callable[[str], None] = print) -> list[PrequentialModel]:
    """Models for the names; a missing engine is reported through ``warn`` and skipped."""
    models = []
    for name in names:
        try:
            models.append(build_model(name, river_max_events))
        except ImportError as exc:
            warn(f"engine unavailable: cannot import streamrec.online.recommender.Recommender ({exc}); "
                 "replaying the other models only")
    return models


def warm_up(names: list[str], events: list, n: int = 1000) -> None:
    """Replay the first ``n`` events through throwaway models so JIT compilation/cache loading
    is not billed to the measured replay (River models have no JIT and are skipped)."""
    from streamrec.replay.prequential import run_prequential

    jitted = [m for m in build_models([x for x in names if not x.startswith("river")],
                                      warn=lambda _: None)]
    if jitted and events:
        run_prequential(events[:n], jitted, stride=1, chunk=max(n // 2, 1))


def run_replay(args: argparse.Namespace) -> int:
    """Entry point of ``streamrec replay``."""
    from streamrec.replay.prequential import run_prequential
    from streamrec.replay.report import format_table, write_metrics, write_report

    def warn(msg: str) -> None:
        print(msg, file=sys.stderr)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    bad = [n for n in names if n not in MODEL_NAMES]
    if bad:
        warn(f"unknown model(s) {bad}; choose from {', '.join(MODEL_NAMES)}")
        return 2
    t0 = time.perf_counter()
    try:
        events, summary = load_events(args.log, args.format)
    except (OSError, ValueError) as exc:
        warn(f"cannot read {args.log}: {exc}")
        return 2
    print(f"read {summary.n_valid} events ({summary.n_invalid} invalid {summary.invalid}) "
          f"from {args.log} in {time.perf_counter() - t0:.1f}s")
    models = build_models(names, args.river_max_events, warn)
    if not events or not models:
        warn("nothing to replay")
        return 1
    warm_up(names, events)
    result = run_prequential(events, models, stride=args.stride, chunk=args.chunk)
    print(f"prequential replay: {result.n_events} events, stride {args.stride}, "
          f"{int(result.evaluate.sum())} evaluated")
    print(format_table(result))
    extra = {"log": str(args.log), "read": summary.to_dict()}
    if args.out:
        print(f"metrics -> {write_metrics(result, args.out, extra)}")
    if args.report:
        files = write_report(result, args.report, extra)
        print("report -> " + ", ".join(str(p) for p in files.values()))
    return 0


def add_replay_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``replay`` on an argparse subparsers object; sets ``func=run_replay``."""
    p = subparsers.add_parser("replay", help="prequential (test-then-learn) replay of a click log",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", help="JSONL(.gz) click log in the event contract, or ML-100K zip/csv/u.data")
    p.add_argument("--format", choices=("auto", "jsonl", "movielens"), default="auto")
    p.add_argument("--stride", type=int, default=1, help="evaluate events with index %% N == 0")
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"comma-separated, from {','.join(MODEL_NAMES)} (default {DEFAULT_MODELS})")
    p.add_argument("--river-max-events", type=int, default=None,
                   help="replay River models on the first N events only (they run ~1k events/s)")
    p.add_argument("--chunk", type=int, default=5000, help="events per evaluate_and_learn call")
    p.add_argument("--out", default=None, help="write metrics JSON here")
    p.add_argument("--report", default=None, help="write metrics.json and PNG plots into this dir")
    p.set_defaults(func=run_replay)
    return p
