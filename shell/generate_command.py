"""``streamrec generate``: write sample click traffic in the event contract (JSONL).

    streamrec generate --events 10000 [--users 500] [--items 1000] [--seed 0]
                       [--invalid-every N] [--out clicks.jsonl]

The events come from :class:`streamrec.shell.traffic.ClickGenerator` (users with a
favourite category and a segment, Zipf-like item popularity, sequels), so ``produce``,
``run`` and ``replay`` can be tried without writing a log by hand. ``--invalid-every N``
mixes in one contract-breaking payload every N lines (to see the dead-letter path).
Without ``--out`` the lines go to standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from itertools import cycle
from typing import Any, BinaryIO

from streamrec.shell.traffic import ClickGenerator, invalid_payloads


def write_traffic(
    out: BinaryIO, n_events: int, n_users: int = 500, n_items: int = 1000, seed: int = 0, invalid_every: int = 0
) -> tuple[int, int]:
    """Write ``n_events`` valid lines (plus invalid ones); returns ``(valid, invalid)``."""
    gen = ClickGenerator(n_users=n_users, n_items=n_items, seed=seed)
    bad = cycle(p for p in invalid_payloads() if b"\n" not in p)
    n_bad = 0
    for n, ev in enumerate(gen.events(n_events), start=1):
        out.write(json.dumps(ev, separators=(",", ":")).encode() + b"\n")
        if invalid_every and n % invalid_every == 0:
            out.write(next(bad) + b"\n")
            n_bad += 1
    return n_events, n_bad


def run_generate(args: argparse.Namespace) -> int:
    for flag in ("events", "users", "items"):
        if getattr(args, flag) < 1:
            print(f"streamrec generate: --{flag} must be >= 1, got {getattr(args, flag)}", file=sys.stderr)
            return 2
    sink: Any = open(args.out, "wb") if args.out else nullcontext(sys.stdout.buffer)
    with sink as out:
        valid, invalid = write_traffic(out, args.events, args.users, args.items, args.seed, args.invalid_every)
    if args.out:
        print(f"wrote {valid} events ({invalid} invalid lines) to {args.out}", file=sys.stderr)
    return 0


def add_generate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``generate``; sets ``func=run_generate``."""
    p = subparsers.add_parser(
        "generate",
        help="write sample click traffic (JSONL in the event contract)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--invalid-every",
        type=int,
        default=0,
        metavar="N",
        help="add one contract-breaking line every N events (default: none)",
    )
    p.add_argument("--out", default=None, help="file to write (default: standard output)")
    p.set_defaults(func=run_generate)
    return p
