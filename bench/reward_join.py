"""The reward join's cost per event, against a full-scan fallback in the same run.

    python bench/reward_join.py [--events 200000] [--users 5000] [--items 20000] [--hit 0.15]

A synthetic stream shaped like the flow's: every event is a click without ``rec_id`` that is
joined (``on_event``), then answered with a slate of 10 (``record_decision``); decisions
expire after ``--window`` seconds of event time (``expire``). A click is on an item of the
user's newest slate with probability ``--hit``, else on a random item (the common
case: the fallback finds nothing).

Two joiners see the same stream, interleaved in chunks of 1,000 events: the engine's
``RewardJoiner`` (a per-user superset of the shown items: a click on an item the user was
not shown skips the scan) and the reference, the same class with the fallback scanning the
user's listed decisions every time. It prints CPU µs per event of each step and the ratio;
both must join the same events (checked). Nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

try:
    import streamrec.flows  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.flows.reward_join import RewardJoiner

STEPS = ("on_event", "record_decision", "expire")


class ScanJoiner(RewardJoiner):
    """The reference: the fallback scans the user's listed decisions on every click (and
    keeps no shown-item sets: ``record_decision`` only calls the no-op below)."""

    def _index_shown(self, user: str) -> set[str]:
        return set()

    def on_event(self, rec_id, user, item, ts, event_id):  # type: ignore[override]
        if rec_id is not None or event_id in self.seen_events:
            return super().on_event(rec_id, user, item, ts, event_id)
        self._remember("s", self.seen_events, event_id)
        for rid in reversed(self.by_user.get(user, [])):
            d = self.pending[rid]
            if item in d["items"] and 0.0 <= ts - d["ts"] <= self.window_s:
                return self._join(d, item, ts, event_id, "joined_fallback")
        self.counters["unmatched"] += 1
        return []


def stream(n: int, users: int, items: int, hit: float, seed: int = 0):
    """(user, clicked item, slate, ts) per event, 1,000 events per second of event time."""
    rng = random.Random(seed)
    last: dict[str, list[str]] = {}
    for k in range(n):
        u = f"u{rng.randrange(users)}"
        shown = last.get(u)
        item = rng.choice(shown) if shown and rng.random() < hit else f"i{rng.randrange(items)}"
        slate = [f"i{rng.randrange(items)}" for _ in range(10)]
        last[u] = slate
        yield u, item, slate, k / 1000.0


def drive(j: RewardJoiner, chunk: list, first: int, spent: dict[str, float]) -> int:
    """Feed one chunk; adds CPU seconds per step to ``spent``; returns the joins."""
    joined = 0
    props = [0.1] * 10
    for k, (u, item, slate, ts) in enumerate(chunk, first):
        t0 = time.thread_time()
        joined += len(j.on_event(None, u, item, ts, f"e{k}"))
        t1 = time.thread_time()
        j.record_decision(f"r{k}", u, ts, slate, props, "greedy", "v")
        t2 = time.thread_time()
        j.expire(ts)
        t3 = time.thread_time()
        spent["on_event"] += t1 - t0
        spent["record_decision"] += t2 - t1
        spent["expire"] += t3 - t2
    return joined


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=5_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--hit", type=float, default=0.15)
    ap.add_argument("--window", type=float, default=30.0, help="reward window, s of event time")
    args = ap.parse_args()
    events = list(stream(args.events, args.users, args.items, args.hit))
    joiners = {"engine": RewardJoiner(args.window), "full scan": ScanJoiner(args.window)}
    spent = {name: dict.fromkeys(STEPS, 0.0) for name in joiners}
    joins = dict.fromkeys(joiners, 0)
    for s in range(0, len(events), 1000):
        for name, j in joiners.items():
            joins[name] += drive(j, events[s : s + 1000], s, spent[name])
    if joins["engine"] != joins["full scan"] or joiners["engine"].counters != joiners["full scan"].counters:
        raise SystemExit(f"the joiners disagree: {joins}")
    n = len(events)
    print(f"{n:,} events, {args.users:,} users, {args.items:,} items, {joins['engine']:,} joined by the fallback")
    print(f"{'CPU µs/event':<16}" + "".join(f"{s:>17}" for s in (*STEPS, "total")))
    for name in joiners:
        row = [spent[name][s] / n * 1e6 for s in STEPS]
        print(f"{name:<16}" + "".join(f"{v:>17.2f}" for v in (*row, sum(row))))
    ratio = {s: spent["engine"][s] / max(spent["full scan"][s], 1e-12) for s in STEPS}
    total = sum(spent["engine"].values()) / sum(spent["full scan"].values())
    print(f"{'engine / scan':<16}" + "".join(f"{v:>17.2f}" for v in (*ratio.values(), total)))


if __name__ == "__main__":
    main()
