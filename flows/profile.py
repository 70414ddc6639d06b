"""Cheap per-stage timing of the dataflow: perf_counter laps accumulated per batch.

One :class:`StageClock` per process (the flow runs one worker thread).
``lap(stage)`` charges the time since the previous lap to ``stage``; the Kafka
source and sink wrappers (:mod:`streamrec.flows.timed_kafka`) charge their own
calls to ``kafka_in`` / ``kafka_out``. Once per engine batch :meth:`StageClock.flush`
adds the accumulated seconds to the ``streamrec_stage_seconds`` counters and, when
``STREAMREC_PROFILE_FILE`` names a file (``{pid}`` in it becomes the process id: one file
per process of a cluster), appends one line to it::

    <events> <batch seconds> <index refreshed 0/1> <stage>=<seconds> ... t0=<batch start>

(the bench reads it for per-batch percentiles; ``t0`` is ``time.perf_counter()``, the
system's monotonic clock, so the lines of a cluster's processes share one timeline).
Cost: ~10 laps and one buffered write per batch, nothing per event.

>>> c = StageClock(path=None)
>>> c.start(); c.lap("parse"); c.lap("learn")
>>> sorted(c.acc)
['learn', 'parse']
"""

from __future__ import annotations

import os
import time

from streamrec.flows import metrics

STAGES = (
    "kafka_in",
    "parse",
    "reward_join",
    "learn_retrieve_rank",
    "exploration",
    "encode",
    "kafka_out",
    "commit",
    "precopy",
    "metrics",
)


class StageClock:
    """Seconds per stage since the last :meth:`flush`."""

    def __init__(self, path: str | None = None) -> None:
        self.acc: dict[str, float] = {}
        self.t = time.perf_counter()
        self.batch_t0 = self.t
        self._file = open(path, "a", buffering=1) if path else None  # noqa: SIM115 -- lives as long as the flow
        self._counters = {s: metrics.STAGE_SECONDS.labels(s) for s in STAGES}

    def start(self) -> None:
        """Begin a batch: laps are measured from now."""
        self.t = self.batch_t0 = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.acc[stage] = self.acc.get(stage, 0.0) + (now - self.t)
        self.t = now

    def add(self, stage: str, seconds: float) -> None:
        """Charge time measured elsewhere (Kafka in/out, epoch commits)."""
        self.acc[stage] = self.acc.get(stage, 0.0) + seconds

    def flush(self, n_events: int, refreshed: bool) -> None:
        """Publish the batch: counters always, a profile line if a file was given."""
        batch_s = time.perf_counter() - self.batch_t0
        for stage, sec in self.acc.items():
            counter = self._counters.get(stage)
            if counter is not None:
                counter.inc(sec)
        if self._file is not None:
            parts = " ".join(f"{k}={v:.7f}" for k, v in self.acc.items())
            self._file.write(f"{n_events} {batch_s:.7f} {int(refreshed)} {parts} t0={self.batch_t0:.6f}\n")
        self.acc = {}


CLOCK = StageClock((os.environ.get("STREAMREC_PROFILE_FILE") or "").replace("{pid}", str(os.getpid())) or None)
