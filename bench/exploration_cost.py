"""What exploration costs the serving path: events/s of learn + rank + slate selection.

The same generated click stream is replayed through ``Recommender.process_batch``
(learn, then top-50 candidates) followed by ``policy.select`` (k=10, seeded by the
event id, with propensities) for each policy, in the same run. The reference is
``greedy`` (no exploration); the issue's target is exploration on >= 80% of it.

    python bench/exploration_cost.py --events 50000
"""

from __future__ import annotations

import argparse
import time

from streamrec.contract.events import event_from_dict
from streamrec.contract.messages import stable_seed
from streamrec.online.policies import make_policy
from streamrec.online.recommender import Recommender
from streamrec.shell.traffic import ClickGenerator


def serve(events, spec: str, batch: int = 500) -> float:
    """Events/s of the whole serving step for policy ``spec``."""
    rec, policy = Recommender(), make_policy(spec)
    rec.process_batch(events[:200], n_candidates=50)  # compile / warm up outside the timing
    rec = Recommender()
    t0 = time.perf_counter()
    for lo in range(0, len(events), batch):
        chunk = events[lo : lo + batch]
        res = rec.process_batch(chunk, n_candidates=50)
        for i, ev in enumerate(chunk):
            policy.select(res.cand_items[i], res.cand_scores[i], 10, seed=stable_seed(ev.event_id))
    return len(events) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--policies", default="greedy,egreedy:0.1,ucb:0.5,softmax:0.2,thompson:1.0")
    args = ap.parse_args()
    gen = ClickGenerator(n_users=3000, n_items=5000, seed=4)
    events = [event_from_dict(e) for e in gen.events(args.events)]
    specs = args.policies.split(",")
    figures = {s: serve(events, s) for s in specs}
    base = figures[specs[0]]
    print(f"{args.events} events, 5000 items, 50 candidates, k=10, batches of 500 (as the flow)")
    for s, eps in figures.items():
        print(f"{s:14s} {eps:9.0f} events/s   {eps / base:5.2f} x {specs[0]}")


if __name__ == "__main__":
    main()
