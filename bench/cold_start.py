"""Cold start: compiling the engine's kernels, one after the other and in two parts at once,
the warm load, and the demo's cold path to its first recommendation.

    python bench/cold_start.py [--runs 1] [--no-demo]

Each row runs in a child process with its own ``NUMBA_CACHE_DIR``:

- ``sequential``: empty cache, the first ``process_batch`` compiles every kernel in turn
  (the reference: what a first call costs without ``shell.compile_ahead``);
- ``in parts``: empty cache, ``compile_ahead`` (a second process compiles half the
  kernels) and then the first ``process_batch``;
- ``warm``: the cache the previous row filled; kernels load from disk;
- ``demo``: empty cache, ``streamrec demo --events 50`` from launch to "dataflow is
  serving" (its first recommendation), broker start and Bytewax included.

Prints wall seconds (and this process's CPU seconds for the first three) and the ratio
in parts / sequential. On a loaded machine compare the CPU columns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from streamrec.online.recommender import Recommender
from streamrec.shell.compile_ahead import compile_ahead
if sys.argv[1] == "parts":
    compile_ahead()
rec = Recommender()
evs = [{"user": f"u{t % 7}", "item": f"i{t % 13}", "context": {"d": "web"}} for t in range(40)]
rec.process_batch(evs, n_candidates=50, rank_before=False)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time()}))
"""


def child(mode: str, cache_dir: str) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def demo_first_recommendation(cache_dir: str) -> float:
    """Seconds from launching ``streamrec demo`` to its "dataflow is serving" line."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory() as state:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamrec", "demo", "--events", "50", "--state", state, "--quiet"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        seconds = float("nan")
        for line in proc.stdout:
            if "dataflow is serving" in line and seconds != seconds:
                seconds = time.perf_counter() - t0
        proc.wait()
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="repetitions of every row")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo row")
    args = ap.parse_args(argv)
    print(f"{'row':<12}{'wall s':>10}{'cpu s':>10}")
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as seq, tempfile.TemporaryDirectory() as parts:
            s = child("sequential", seq)
            print(f"{'sequential':<12}{s['wall']:>10.1f}{s['cpu']:>10.1f}", flush=True)
            p = child("parts", parts)
            print(f"{'in parts':<12}{p['wall']:>10.1f}{p['cpu']:>10.1f}   (cpu: this process only)", flush=True)
            w = child("sequential", parts)
            print(f"{'warm':<12}{w['wall']:>10.1f}{w['cpu']:>10.1f}", flush=True)
            print(f"in parts / sequential (wall): {p['wall'] / s['wall']:.2f}", flush=True)
        if not args.no_demo:
            with tempfile.TemporaryDirectory() as cold:
                print(f"{'demo':<12}{demo_first_recommendation(cold):>10.1f}   (cold, to first recommendation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
