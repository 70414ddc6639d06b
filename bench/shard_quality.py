"""Quality cost of user sharding on a log: HR@10 over sync period T for S shards.

    python bench/shard_quality.py ZIP_OR_LOG [--shards 1,2,4] [--sync-every 100,1000,10000]

Replays the log prequentially (every event evaluated) through the unsharded engine and
one ``replay.sharded.ShardedEngine`` per (S, T), interleaved chunk by chunk in one run;
prints the HR@10 table (difference to S = 1 at the same T in brackets), the number of
events whose rank differs between S = 1 and the unsharded engine (must be 0), the delta
bytes exchanged and each model's events/s (noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import streamrec.replay  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.online.config import RecommenderConfig
from streamrec.online.recommender import Recommender
from streamrec.replay.prequential import run_prequential
from streamrec.replay.sharded import ShardedEngine, curve_table
from streamrec.shell.replay_commands import load_events


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--sync-every", default="100,1000,10000")
    ap.add_argument("--chunk", type=int, default=5000)
    args = ap.parse_args(argv)
    shards = [int(x) for x in args.shards.split(",")]
    syncs = [int(x) for x in args.sync_every.split(",")]
    events, _ = load_events(args.path)
    cfg = RecommenderConfig()
    Recommender(cfg).evaluate_and_learn(events[:2000], np.ones(2000, np.bool_))  # compile
    ShardedEngine(cfg, 2, 500).evaluate_and_learn(events[:2000], np.ones(2000, np.bool_))
    plain = Recommender(cfg)
    plain.name = "engine"
    models = {(s, t): ShardedEngine(cfg, s, t) for s in shards for t in syncs}
    res = run_prequential(events, [plain, *models.values()], stride=1, chunk=args.chunk)
    hr = {key: res.models[m.name].all.hr for key, m in models.items()}
    print(
        f"{res.n_events} events, {int(res.evaluate.sum())} evaluated; HR@10 "
        f"(unsharded engine {res.models['engine'].all.hr:.4f} "
        f"± {res.models['engine'].all.hr_ci:.4f})"
    )
    print(curve_table(hr))
    for (s, t), m in models.items():
        r = res.models[m.name]
        extra = ""
        if s == 1:
            n_diff = int((r.ranks != res.models["engine"].ranks).sum())
            extra = f"  ranks differing from the unsharded engine: {n_diff}"
        print(
            f"  S={s} T={t}: {m.n_syncs} syncs, {m.delta_bytes / 1e6:.1f} MB of deltas, "
            f"{r.events_per_s:,.0f} events/s{extra}"
        )
    print(f"  unsharded: {res.models['engine'].events_per_s:,.0f} events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
