"""Cold start of the engine: Numba compile time of the first calls, then the warm load.

    python bench/cold_start.py [--runs 1]

Runs a child process with an empty ``NUMBA_CACHE_DIR`` (cold: every kernel compiles and is
written to the cache), then a second child on the same cache (warm: kernels load from
disk). Each child prints the seconds of: importing the recommender, the first
``process_batch`` (learn + top-50, the live flow's call; wall and CPU), the first
``rank`` (wall and CPU) and, in the total, the first ``evaluate_and_learn`` (replay's
call). Figures depend on the machine and its load: compare CPU seconds.
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
import json, time
t0 = time.perf_counter()
import numpy as np
from streamrec.online.recommender import Recommender
t1, c1 = time.perf_counter(), time.process_time()
rec = Recommender()
evs = [{"user": f"u{t % 7}", "item": f"i{t % 13}", "context": {"d": "web"}}
       for t in range(40)]
rec.process_batch(evs[:20], n_candidates=50, rank_before=False)
t2, c2 = time.perf_counter(), time.process_time()
rec.rank("u1", k=10)
t3, c3 = time.perf_counter(), time.process_time()
rec.evaluate_and_learn(evs[20:], np.ones(20, np.bool_))
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "process_batch": t2 - t1, "rank": t3 - t2,
                  "evaluate_and_learn": t4 - t3, "process_batch_cpu": c2 - c1,
                  "rank_cpu": c3 - c2}))
"""


def child(cache_dir: str) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["total"] = time.perf_counter() - t
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="cold/warm pairs to run")
    args = ap.parse_args(argv)
    keys = ("import", "process_batch", "process_batch_cpu", "rank", "rank_cpu", "total")
    print(f"{'run':<6}" + "".join(f"{k:>18}" for k in keys) + "   (seconds)")
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            for name in ("cold", "warm"):
                r = child(d)
                print(f"{name:<6}" + "".join(f"{r[k]:>20.2f}" for k in keys), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
