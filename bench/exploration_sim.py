"""Exploration policies in a closed-loop click simulator, OPE against known truth, selection throughput.

    python bench/exploration_sim.py [--events 200000] [--ope-decisions 100000] [--report DIR]

1. Cumulative expected regret (vs the optimal slate) of greedy, fixed epsilon-greedy,
   softmax, Thompson, UCB and uniform random, each with the same per-item logistic learner;
   then (``--engine-events``) the same loop with the streamrec engine itself as the learner.
2. OPE: decisions logged by epsilon-greedy(0.3) on a fixed noisy scorer; the value of
   softmax(T=0.5) on the same scorer estimated by IPS/SNIPS/DM/DR; relative error vs the
   exact value computed from the known click probabilities.
3. events/s of ``select`` with exploration (epsilon-greedy, propensities on) vs greedy on
   the same 50 candidates, k=10, in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.online.policies import UCB, EpsilonGreedy, GaussianThompson, Greedy, Softmax, UniformRandom  # noqa: E402
from streamrec.replay.ope.suite import run_estimators  # noqa: E402
from streamrec.replay.reward_model import RewardModel  # noqa: E402
from streamrec.replay.simulator import (  # noqa: E402
    ClickSimulator,
    FixedScorer,
    SimulatorConfig,
    log_decisions,
    policy_marginals,
    run_closed_loop,
    true_value,
)


def regret_runs(n_events: int, cfg: SimulatorConfig) -> list:
    policies = [Greedy(), EpsilonGreedy(0.05), Softmax(0.25), GaussianThompson(1.0), UCB(0.5), UniformRandom()]
    results = []
    print(f"\n1) closed loop: {n_events} events, {cfg.n_users} users, {cfg.n_items} items, dim {cfg.dim}, k {cfg.k}")
    print(f"  {'policy':<16}{'clicks':>9}{'cum. regret':>13}{'regret/event':>14}{'events/s':>10}")
    for pol in policies:
        r = run_closed_loop(ClickSimulator(cfg), pol, n_events=n_events, seed=1)
        results.append(r)
        print(
            f"  {pol.name:<16}{r.reward:>9.0f}{r.regret:>13.1f}{r.regret / n_events:>14.4f}"
            f"{n_events / r.seconds:>10.0f}"
        )
    return results


def engine_regret_runs(n_events: int, cfg: SimulatorConfig) -> list:
    from streamrec.replay.sim_engine import EngineLearner

    policies = [Greedy(), EpsilonGreedy(0.05), GaussianThompson(0.3), UCB(0.1), UniformRandom()]
    results = []
    print(f"\n1b) closed loop with the streamrec engine (online.recommender) as the learner: {n_events} events")
    print(f"  {'policy':<16}{'clicks':>9}{'cum. regret':>13}{'regret/event':>14}{'events/s':>10}")
    for pol in policies:
        sim = ClickSimulator(cfg)
        r = run_closed_loop(sim, pol, EngineLearner(sim), n_events=n_events, seed=1)
        results.append(r)
        print(
            f"  {pol.name:<16}{r.reward:>9.0f}{r.regret:>13.1f}{r.regret / n_events:>14.4f}"
            f"{n_events / r.seconds:>10.0f}"
        )
    return results


def ope_run(n_decisions: int, cfg: SimulatorConfig) -> dict:
    sim = ClickSimulator(cfg)
    scorer = FixedScorer(sim, noise=0.5)
    logging, target = EpsilonGreedy(0.3), Softmax(0.5, n_draws=512)
    t0 = time.perf_counter()
    log = log_decisions(sim, logging, scorer, n_decisions, seed=3)
    marg = policy_marginals(sim, target, scorer)  # [n_users, n_items, k]
    truth = true_value(sim, marg)
    pe = marg[log.user, log.action, log.position]
    model = RewardModel(n_bits=18, init_logit=float(np.log(log.reward.mean() / (1 - log.reward.mean()))))
    for u, a, s, r in zip(log.user, log.action, log.position, log.reward):
        model.learn_one({"user": str(u), "item": int(a), "position": int(s)}, r)
    items = np.arange(cfg.n_items)
    q = np.stack([model.predict_grid({"user": str(u)}, items, list(range(sim.k))) for u in range(cfg.n_users)])
    v_hat = np.einsum("tap,tap->tp", marg[log.user], q[log.user])[np.arange(len(log.user)), log.position]
    q_hat = q[log.user, log.action, log.position]
    res = run_estimators(log.reward, log.pscore, pe, v_hat, q_hat, n_bootstrap=200)
    print(
        f"\n2) OPE: {n_decisions} decisions ({len(log.reward)} slot rounds) logged by {logging.name}; "
        f"target {target.name}; truth per impression {truth:.5f}; logged {log.reward.mean():.5f} "
        f"[{time.perf_counter() - t0:.1f}s]"
    )
    print(f"  {'estimator':<10}{'estimate':>9}  {'95% interval':<20}{'rel. error':>11}{'<=10%':>7}{'covers':>8}")
    for name, e in res.items():
        rel = abs(e["mean"] - truth) / truth
        print(
            f"  {name:<10}{e['mean']:>9.5f}  [{e['lower']:.5f}, {e['upper']:.5f}]{rel:>10.1%}"
            f"{str(rel <= 0.10):>7}{str(e['lower'] <= truth <= e['upper']):>8}"
        )
    return {"truth": truth, "estimates": res}


def throughput(n_calls: int = 20000, n_cand: int = 50, k: int = 10) -> None:
    rng = np.random.default_rng(0)
    items = np.array([f"item-{j}" for j in range(n_cand)], dtype=object)
    scores = [rng.normal(size=n_cand) for _ in range(64)]
    print(f"\n3) select() throughput: {n_cand} candidates, k={k}, {n_calls} calls each (same candidates)")
    pols = [Greedy(), EpsilonGreedy(0.1), Softmax(0.25), GaussianThompson(1.0), UCB(0.5), UniformRandom()]
    rates = {p.name: 0.0 for p in pols}
    for pol in pols:
        pol.select(items, scores[0], k, seed=0)  # compile / warm caches
    for _ in range(5):  # interleaved rounds, best of each: the machine is shared
        for pol in pols:
            n = n_calls if pol.name in ("greedy", "egreedy:0.1", "uniform", "ucb:0.5") else n_calls // 10
            t0 = time.perf_counter()
            for i in range(n):
                pol.select(items, scores[i & 63], k, seed=i)
            rates[pol.name] = max(rates[pol.name], n / (time.perf_counter() - t0))
    for name, r in rates.items():
        print(f"  {name:<16}{r:>10.0f} calls/s  ({r / rates['greedy']:.0%} of greedy)")
    print(
        f"  exploration on (egreedy:0.1 with exact propensities) / off (greedy): "
        f"{rates['egreedy:0.1'] / rates['greedy']:.2f}"
    )


def plot(results: list, out: Path, title: str = "Exploration policies in the click simulator") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ax.plot(r.checkpoints, r.regret_curve, label=r.policy)
    ax.set_xlabel("events")
    ax.set_ylabel("cumulative expected regret (clicks)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"\nplot: {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--ope-decisions", type=int, default=100_000)
    ap.add_argument("--report", default=None, help="directory for regret.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--engine-events",
        type=int,
        default=200_000,
        help="closed-loop events with the streamrec engine as learner (0 = skip)",
    )
    args = ap.parse_args(argv)
    cfg = SimulatorConfig(seed=args.seed)
    results = regret_runs(args.events, cfg) if args.events > 0 else []
    engine = engine_regret_runs(args.engine_events, cfg) if args.engine_events > 0 else []
    if args.ope_decisions > 0:
        ope_run(args.ope_decisions, cfg)
    throughput()
    if args.report and results:
        plot(results, Path(args.report) / "regret.png")
    if args.report and engine:
        plot(engine, Path(args.report) / "regret_engine.png", "Exploration with the streamrec engine as learner")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
