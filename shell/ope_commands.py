"""CLI: ``streamrec ope LOG --policy P [--format obd|streamrec]`` and ``streamrec ab-report LOG``.

``ope`` estimates a policy's value per impression (one shown slot) from logged
decisions with IPS, SNIPS, DM, DR (reward model :class:`replay.reward_model.RewardModel`
fitted on the same log, one pass) and, on uniformly random logs, the replay method.

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
from streamrec.replay.ope.base import refit_bootstrap_interval
from streamrec.replay.ope.suite import run_estimators
from streamrec.replay.reward_model import RewardModel
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
        help="Open Bandit logs: DM's interval refits the reward model on N bootstrap resamples (default 50; "
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


def _base_logit(reward: np.ndarray) -> float:
    p = min(max(float(np.mean(reward)), 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


def fit_obd_model(log: Any, rows: np.ndarray | None = None) -> RewardModel:
    """The reward model q(x, a, s) fitted in one pass over ``rows`` of an OBD log (all rows by default)."""
    rows = np.arange(len(log)) if rows is None else rows
    model = RewardModel(n_bits=16, init_logit=_base_logit(log.reward[rows]))
    for t in rows:
        model.learn_one({**log.context(t), "item": int(log.action[t]), "position": int(log.position[t])}, log.reward[t])
    return model


def obd_inputs(log: Any, policy: str, bts_log: Any = None, model: RewardModel | None = None) -> dict:
    """Per-round evaluation_pscore, estimated_value and estimated_reward_logged for an OBD log."""
    from streamrec.replay.open_bandit import empirical_action_dist, uniform_action_dist

    items = np.arange(log.n_actions)
    fixed = None
    if policy == "random":
        fixed = uniform_action_dist(log.n_actions, log.len_list)
    elif policy == "bts":
        if bts_log is None:
            raise ValueError("policy bts needs the BTS log (--bts-log)")
        fixed = empirical_action_dist(bts_log)
    pol = None if fixed is not None else make_policy(policy)
    model = model or fit_obd_model(log)
    n = len(log)
    pe, v_hat, q_hat = np.empty(n), np.empty(n), np.empty(n)
    dist_cache: dict[bytes, np.ndarray] = {}
    q_cache: dict[tuple, np.ndarray] = {}
    for t in range(n):
        s, a = int(log.position[t]), int(log.action[t])
        if fixed is not None:
            dist = fixed
        else:
            assert pol is not None  # made above whenever no fixed distribution is given
            key = log.affinity[t].tobytes()
            cached = dist_cache.get(key)
            if cached is None:
                cached = dist_cache[key] = pol.probabilities(items, log.affinity[t], log.len_list)
            dist = cached
        ckey = tuple(log.user_features[t])
        q = q_cache.get(ckey)
        if q is None:
            q = q_cache[ckey] = model.predict_grid(log.context(t), items, list(range(log.len_list)))
        pe[t], v_hat[t], q_hat[t] = dist[a, s], dist[:, s] @ q[:, s], q[a, s]
    return {"evaluation_pscore": pe, "estimated_value": v_hat, "estimated_reward_logged": q_hat}


def records_to_rounds(records: list[dict]) -> list[dict]:
    """Reward records -> one dict per decision: items, propensities, scores, context, rewards per slot."""
    by_rec: dict[str, dict] = {}
    for r in records:
        slate = r.get("slate") or {}
        items = [str(i) for i in slate.get("items", [])]
        d = by_rec.setdefault(
            str(r["rec_id"]),
            {
                "items": items,
                "propensities": [float(p) for p in slate.get("propensities", [])],
                "scores": slate.get("scores"),
                "context": r.get("context") or {},
                "rewards": [0.0] * len(items),
            },
        )
        pos = r.get("position")
        if isinstance(pos, int) and 0 <= pos < len(d["rewards"]) and (r.get("reward") or 0) > 0:
            d["rewards"][pos] = 1.0
    return [d for d in by_rec.values() if d["items"] and len(d["propensities"]) == len(d["items"])]


def streamrec_inputs(decisions: list[dict], policy: str) -> dict:
    """Per-round arrays (one round = one shown slot) for the estimators."""
    pol = make_policy(policy)
    model = RewardModel(n_bits=18, init_logit=_base_logit(np.concatenate([d["rewards"] for d in decisions])))
    for d in decisions:
        for s, (it, r) in enumerate(zip(d["items"], d["rewards"])):
            model.learn_one({**d["context"], "item": it, "position": s}, r)
    cols: dict[str, list[float]] = {
        k: [] for k in ("reward", "pscore", "evaluation_pscore", "estimated_value", "estimated_reward_logged")
    }
    for d in decisions:
        k = len(d["items"])
        scores = d["scores"] if d["scores"] is not None else [-float(s) for s in range(k)]
        P = pol.probabilities(np.array(d["items"], dtype=object), scores, k)
        q = model.predict_grid(d["context"], d["items"], list(range(k)))
        for s in range(k):
            cols["reward"].append(d["rewards"][s])
            cols["pscore"].append(min(max(d["propensities"][s], 1e-6), 1.0))
            cols["evaluation_pscore"].append(P[s, s])
            cols["estimated_value"].append(float(P[:, s] @ q[:, s]))
            cols["estimated_reward_logged"].append(q[s, s])
    return {k: np.asarray(v) for k, v in cols.items()}


def dm_refit_interval(log: Any, target: str, bts: Any, n_refits: int, alpha: float = 0.05) -> dict[str, float]:
    """DM's percentile interval with the reward model refitted on every bootstrap resample of
    the rounds (the model's own error is DM's main error; a fixed model gives a far too narrow
    interval)."""

    def dm_on(idx: np.ndarray) -> float:
        model = fit_obd_model(log, idx)
        return float(obd_inputs(log, target, bts, model=model)["estimated_value"][idx].mean())

    return refit_bootstrap_interval(dm_on, len(log), alpha=alpha, n_bootstrap=n_refits)


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
    _check_ope_args(args)
    if args.format == "obd":
        log = _load_obd(args.log, "log")
        bts = None
        if args.policy == "bts":
            bts_path = (
                args.bts_log or (Path(args.log).parent if Path(args.log).is_file() else Path(args.log)).parent / "bts"
            )
            bts = _load_obd(bts_path, "--bts-log")
        inputs = obd_inputs(log, args.policy, bts)
        reward, pscore = log.reward, log.pscore
        logged = (int(log.reward.sum()), len(log))
    else:
        records, bad = read_records(args.log)
        decisions = records_to_rounds(records)
        if not decisions:
            print(f"no usable reward records in {args.log} ({bad} bad lines)")
            return 1
        if args.policy == "logged":
            r = np.concatenate([d["rewards"] for d in decisions])
            lo, hi = wilson_interval(int(r.sum()), len(r), args.alpha)
            print(f"logged (on-policy) value per impression: {r.mean():.5f} [{lo:.5f}, {hi:.5f}] n={len(r)}")
            return 0
        inputs = streamrec_inputs(decisions, args.policy)
        reward, pscore = inputs.pop("reward"), inputs.pop("pscore")
        logged = (int(reward.sum()), len(reward))
    res = run_estimators(
        reward,
        pscore,
        inputs["evaluation_pscore"],
        inputs["estimated_value"],
        inputs["estimated_reward_logged"],
        alpha=args.alpha,
        n_bootstrap=args.n_bootstrap,
        method=args.interval,
    )
    if args.format == "obd" and args.dm_refits > 0 and "dm" in res:
        refit = dm_refit_interval(log, args.policy, bts, args.dm_refits, args.alpha)
        res["dm"] = {**res["dm"], "lower": refit["lower"], "upper": refit["upper"]}
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
