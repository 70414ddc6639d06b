"""Engine variants against a reference engine on ML-100K, replayed in the same run.

    python bench/knn_variants.py PATH_TO_ml_100k.zip --set knn_slots=256 --ref knn_slots=0
                                 [--events N] [--seed 42]

``--set`` / ``--ref`` override ``RecommenderConfig`` fields (repeatable) of the variant and of
the reference. Both are replayed chunk-interleaved by ``run_prequential`` (same machine
load), after a JIT warm-up on a 2,000-event prefix; prints HR@10 (all / first / second
half), NDCG@10, events/s of each and the speed ratio variant / reference. ``--events``
replays only a prefix (50000 = the first half, where defaults are chosen). Figures are
noisy on a shared machine: read the ratio; events per CPU-second approximate an idle core.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields

from streamrec.online.recommender import Recommender, RecommenderConfig
from streamrec.replay.movielens import read_movielens
from streamrec.replay.prequential import run_prequential


def parse_sets(items: list[str]) -> dict:
    """``key=value`` strings -> typed ``RecommenderConfig`` overrides."""
    names = {f.name for f in fields(RecommenderConfig)}
    out = {}
    for s in items:
        key, val = s.split("=", 1)
        if key not in names:
            raise SystemExit(f"unknown config field {key!r}")
        default = getattr(RecommenderConfig(), key)
        out[key] = val.lower() in ("1", "true") if isinstance(default, bool) else type(default)(val)
    return out


class CpuTimed:
    """A model whose ``evaluate_and_learn`` also accumulates process CPU seconds (close to
    the time on an idle core when the machine is shared)."""

    def __init__(self, model: Recommender, name: str) -> None:
        self.model, self.name, self.cpu = model, name, 0.0

    def evaluate_and_learn(self, events, evaluate):
        t0 = time.process_time()
        out = self.model.evaluate_and_learn(events, evaluate)
        self.cpu += time.process_time() - t0
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--ref", action="append", default=[])
    ap.add_argument("--events", type=int, default=0)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    events, _ = read_movielens(args.path)
    if args.events:
        events = events[: args.events]
    confs = {
        "variant": {**parse_sets(args.set), "seed": args.seed},
        "reference": {**parse_sets(args.ref), "seed": args.seed},
    }
    models = []
    for name, over in confs.items():
        Recommender(RecommenderConfig(**over)).process_batch(events[:2000], 0, True)  # JIT
        models.append(CpuTimed(Recommender(RecommenderConfig(**over)), name))
    res = run_prequential(events, models, stride=1)
    cpu = {m.name: len(events) / max(m.cpu, 1e-9) for m in models}
    for name, m in res.models.items():
        hit = (m.ranks > 0) & (m.ranks <= 10)
        half = 50_000
        halves = (
            f"1st half {hit[:half].mean():.4f} | 2nd half {hit[half:].mean() if len(hit) > half else float('nan'):.4f}"
        )
        print(
            f"{name} {confs[name]}: HR@10 {m.all.hr:.4f} | NDCG@10 {m.all.ndcg:.4f} | "
            f"{halves} | {m.events_per_s:,.0f} ev/s wall, {cpu[name]:,.0f} ev/CPU-s"
        )
    va, vb = res.models["variant"], res.models["reference"]
    print(
        f"speed variant / reference = {va.events_per_s / vb.events_per_s:.2f} wall, "
        f"{cpu['variant'] / cpu['reference']:.2f} CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
