"""CLI: ``streamrec ope LOG --policy P [--format obd|streamrec]`` and ``streamrec ab-report LOG``.

``ope`` estimates a policy's value per impression (one shown slot) from logged
decisions with IPS, SNIPS, DM, DR (reward model :class:`replay.reward_model.RewardModel`
fitted on the same log, one pass) and, on uniformly random logs, the replay method.
Both formats become :class:`replay.ope.logged_rounds.LoggedRounds` and go through
:func:`replay.ope.suite.estimate_rounds`; DM's interval refits the reward model on
``--dm-refits`` bootstrap resamples. A progress bar (model fits, rate, ETA) is drawn on
stderr when it is a terminal.

* ``--format obd``: an Open Bandit Dataset ``all.csv.gz`` (or its directory).
  Policies: ``random`` (1/80 per slot), ``bts`` (empirical slot marginals of
  the Bernoulli-TS log, ``--bts-log``, default ``LOG/../bts``), or any
  ``make_policy`` spec (``greedy``, ``egreedy:0.1``, ``softmax:0.5``, ...)
  acting on the row's user-item affinity features as scores.
* ``--format streamrec``: reward records JSONL written by the RewardJoiner.
  Candidates of a decision are its logged slate (the only items with logged
  propensities); a spec policy ranks them by the logged scores if present,
  else by the logged slot order. ``logged`` gives the on-policy value.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.online.policies import make_policy
from streamrec.replay.ab_report import (
    ab_summary,
    format_summary,
    read_records,
    wilson_interval,
)
from streamrec.replay.ope.log_formats import decision_rounds, obd_rounds, records_to_decisions
from streamrec.replay.ope.suite import estimate_rounds
from streamrec.shell.usage_checks import POLICIES, UsageError


def add_ope_parsers(subparsers: Any) -> None:
    """Register ``ope`` and ``ab-report`` on an argparse subparsers object."""
    p = subparsers.add_parser("ope", help="off-policy estimate of a policy's value from logged decisions")
    p.add_argument("log")
    p.add_argument("--policy", default="random", help="random, bts, logged, greedy, egreedy:EPS, softmax:T, ...")
    p.add_argument("--format", choices=["obd", "streamrec"], default="obd")
    p.add_argument("--bts-log", default=None, help="OBD: the Bernoulli-TS log defining the bts policy")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--n-bootstrap", type=int, default=1000)
    p.add_argument(
        "--dm-refits",
        type=int,
        default=50,
        metavar="N",
        help="DM's interval refits the reward model on N bootstrap resamples (default 50; "
        "0 = hold the model fixed, which is too narrow)",
    )
    p.add_argument("--interval", choices=["bootstrap", "normal"], default="bootstrap")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_ope)
    a = subparsers.add_parser("ab-report", help="per-arm CTR, Wilson intervals and z-tests from reward records")
    a.add_argument("log")
    a.add_argument("--control", default=None)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=run_ab_report)


def _check_ope_args(args: argparse.Namespace) -> None:
    """Log present, policy known for the format (one-line :class:`UsageError` otherwise)."""
    fixed = ("random", "bts") if args.format == "obd" else ("logged",)
    if not Path(args.log).exists():
        raise UsageError(
            f"log {args.log}: no such file; expected "
            + (
                "an Open Bandit all.csv.gz or its directory"
                if args.format == "obd"
                else "a JSONL file of reward records"
            )
        )
    if args.dm_refits < 0:
        raise UsageError(f"--dm-refits {args.dm_refits}: must be 0 (model held fixed) or a positive count")
    if args.policy not in fixed:
        try:
            make_policy(args.policy)
        except ValueError:
            raise UsageError(
                f"--policy {args.policy}: unknown policy; allowed with --format {args.format}: "
                f"{' | '.join(fixed)} | {POLICIES}"
            ) from None


def _load_obd(path: str | Path, flag: str) -> Any:
    from streamrec.replay.open_bandit import load_open_bandit

    try:
        return load_open_bandit(path)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"{flag} {path}: not an Open Bandit log ({exc})") from None


def run_ope(args: argparse.Namespace) -> int:
    """The ``ope`` subcommand."""
    from streamrec.shell.progress import Progress

    _check_ope_args(args)
    if args.format == "obd":
        log = _load_obd(args.log, "log")
        bts = None
        if args.policy == "bts":
            bts_path = (
                args.bts_log or (Path(args.log).parent if Path(args.log).is_file() else Path(args.log)).parent / "bts"
            )
            bts = _load_obd(bts_path, "--bts-log")
        rounds = obd_rounds(log, args.policy, bts)
    else:
        records, bad = read_records(args.log)
        decisions = records_to_decisions(records)
        if not decisions:
            print(f"no usable reward records in {args.log} ({bad} bad lines)")
            return 1
        if args.policy == "logged":
            r = np.concatenate([d["rewards"] for d in decisions])
            lo, hi = wilson_interval(int(r.sum()), len(r), args.alpha)
            print(f"logged (on-policy) value per impression: {r.mean():.5f} [{lo:.5f}, {hi:.5f}] n={len(r)}")
            return 0
        rounds = decision_rounds(decisions, args.policy)
    logged = (int(rounds.reward.sum()), len(rounds))
    with Progress("ope", total=1 + args.dm_refits, unit="model fits") as bar:
        res = estimate_rounds(
            rounds,
            alpha=args.alpha,
            n_bootstrap=args.n_bootstrap,
            method=args.interval,
            dm_refits=args.dm_refits,
            progress=bar.update,
        )
    lo, hi = wilson_interval(logged[0], logged[1], args.alpha)
    if args.json:
        print(
            json.dumps(
                {
                    "policy": args.policy,
                    "logged_value": logged[0] / logged[1],
                    "logged_interval": [lo, hi],
                    "estimates": res,
                }
            )
        )
        return 0
    print(f"log {args.log}: {logged[1]} impressions, logged CTR {logged[0] / logged[1]:.5f} [{lo:.5f}, {hi:.5f}]")
    print(f"estimated value of {args.policy!r} ({args.interval} {100 * (1 - args.alpha):.0f}% intervals):")
    for name, e in res.items():
        print(f"  {name:<7}{e['mean']:.5f}  [{e['lower']:.5f}, {e['upper']:.5f}]")
    return 0


def run_ab_report(args: argparse.Namespace) -> int:
    """The ``ab-report`` subcommand."""
    if not Path(args.log).is_file():
        raise UsageError(f"log {args.log}: no such file; expected a JSONL file of reward records")
    records, bad = read_records(args.log)
    records = [r for r in records if "reward" in r]
    if not records:
        raise UsageError(
            f"log {args.log}: no reward records ({bad} other lines); ab-report reads the rewards "
            "topic (e.g. `streamrec subscribe --topic rewards --json --from-beginning`)"
        )
    arms = sorted({str(r.get("arm") or "default") for r in records})
    if args.control is not None and args.control not in arms:
        raise UsageError(f"--control {args.control}: no such arm in {args.log}; arms: {', '.join(arms)}")
    summary = ab_summary(records, control=args.control)
    summary["bad_lines"] = bad
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0
