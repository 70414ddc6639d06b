"""What a restart costs the flow: start-up and the first epoch commit after a resume.

    python bench/resume_cost.py [--events 50000] [--epoch-events 10000] [--after 5000]

The flow's engine step (``EngineLogic``, recovery on, in-process, no Kafka) learns
``--events`` clicks of ``bench/flow_throughput.py``'s backlog stream, snapshotting every
``--epoch-events``, and stops. Its state directory is copied, and both copies are resumed
from the last snapshot as Bytewax would resume them, then learn ``--after`` more clicks and
take one snapshot:

* this code: the first commit is a delta on the checkpoint the engine resumed from
  (``EpochCommitter(base_epoch=...)``);
* the reference, the way before: a first commit that writes the whole model (the
  committer's ``_first``). (The release before also saved the loaded model at start-up,
  which wrote next to nothing but diffed the whole model; not emulated here.)

Printed for each: start-up ms, the first commit's time on the event path (capture + redo
file), its redo file MB, and the commit worker's wall ms for it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from batch_overhead import _messages
from flow_throughput import payloads

try:
    import streamrec.flows  # noqa: F401
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.contract.config import RunConfig
from streamrec.flows.engine_step import EngineLogic


def learn(step: EngineLogic, clicks: list[bytes], first: int, epoch: int) -> dict | None:
    """Feed clicks in batches of 1,000; snapshot every ``epoch`` events; the last snapshot."""
    snap = None
    for s in range(0, len(clicks), 1000):
        step.on_batch(_messages(clicks[s : s + 1000], first + s))
        if (first + s + 1000) % epoch == 0:
            snap = step.snapshot()
    return snap


def resume(state_dir: Path, snap: dict, clicks: list[bytes], first: int, reference: bool) -> dict[str, float]:
    t = time.perf_counter()
    step = EngineLogic(RunConfig(state_dir=state_dir, recovery=True), snap)
    assert step.committer is not None
    if reference:
        step.committer._first = True  # the full first commit of the release before
    out = {"start-up ms": (time.perf_counter() - t) * 1e3}
    learn(step, clicks, first, 10**12)
    t = time.perf_counter()
    step.snapshot()
    out["first commit on the path, ms"] = (time.perf_counter() - t) * 1e3
    out["its redo file, MB"] = step.committer.timings["redo_bytes"] / 1e6
    step.committer.wait()
    out["commit worker, ms"] = step.committer.timings["background"] * 1e3
    step.committer.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--epoch-events", type=int, default=10_000)
    ap.add_argument("--after", type=int, default=5_000)
    args = ap.parse_args()
    clicks = payloads(args.events + args.after, 1, "w")
    with tempfile.TemporaryDirectory(prefix="resume-cost-") as d:
        first_run = Path(d) / "a"
        step = EngineLogic(RunConfig(state_dir=first_run, recovery=True), None)
        snap = learn(step, clicks[: args.events], 0, args.epoch_events)
        assert step.committer is not None and snap is not None
        step.committer.close()
        n_items = step.model.n_items
        shutil.copytree(first_run, Path(d) / "b")
        after = clicks[args.events :]
        rows = {
            "this code": resume(first_run, snap, after, args.events, reference=False),
            "the way before": resume(Path(d) / "b", snap, after, args.events, reference=True),
        }
    print(f"resumed after {args.events:,} clicks ({n_items:,} items), then {args.after:,} more and a snapshot")
    names = list(rows["this code"])
    print(f"{'':<16}" + "".join(f"{n:>32}" for n in names))
    for label, r in rows.items():
        print(f"{label:<16}" + "".join(f"{r[n]:>32.1f}" for n in names))


if __name__ == "__main__":
    main()
