"""Bytewax's Kafka source and sink, timed into the stage profile, with a clean stop.

The partitions are the stock ones; the wrappers charge the wall time of ``next_batch``
to ``kafka_in`` and of ``write_batch`` (produce + flush) to ``kafka_out`` of
:data:`streamrec.flows.profile.CLOCK`.

Stopping: a tail-mode source never ends, so Ctrl-C used to interrupt Bytewax mid-batch
(a Rust panic, a traceback, exit 1). Once :data:`STOP` is set (``streamrec run``'s
SIGINT/SIGTERM handler does it), every source partition reports end-of-input: Bytewax
finishes the batch in flight, closes the epoch, writes its final snapshot (the engine
commits the model with it) and returns normally. A restart resumes from that snapshot;
every Kafka partition is rebuilt from its stored offset.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bytewax.connectors.kafka import KafkaSink, KafkaSource
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import StatelessSinkPartition

from streamrec.flows.profile import CLOCK

#: set to end the flow cleanly (see module docstring)
STOP = threading.Event()


class _TimedSourcePartition(StatefulSourcePartition):
    def __init__(self, inner: StatefulSourcePartition) -> None:
        self.inner = inner

    def next_batch(self) -> list[Any]:
        if STOP.is_set():
            raise StopIteration()
        t = time.perf_counter()
        try:
            return list(self.inner.next_batch())
        finally:
            CLOCK.add("kafka_in", time.perf_counter() - t)

    def next_awake(self):
        return self.inner.next_awake()

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class _TimedSinkPartition(StatelessSinkPartition):
    def __init__(self, inner: StatelessSinkPartition) -> None:
        self.inner = inner

    def write_batch(self, items: list[Any]) -> None:
        t = time.perf_counter()
        self.inner.write_batch(items)
        CLOCK.add("kafka_out", time.perf_counter() - t)

    def close(self) -> None:
        self.inner.close()


class TimedKafkaSource(KafkaSource):
    """:class:`KafkaSource` whose partitions are timed and end once :data:`STOP` is set."""

    def build_part(self, step_id: str, for_part: str, resume_state: Any):
        return _TimedSourcePartition(super().build_part(step_id, for_part, resume_state))


class TimedKafkaSink(KafkaSink):
    """:class:`KafkaSink` whose partition is timed."""

    def build(self, step_id: str, worker_index: int, worker_count: int):
        return _TimedSinkPartition(super().build(step_id, worker_index, worker_count))
