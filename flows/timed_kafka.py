"""Bytewax's Kafka source and sink, with their calls timed into the stage profile.

The partitions are the stock ones; the wrappers only charge the wall time of
``next_batch`` to ``kafka_in`` and of ``write_batch`` (produce + flush) to
``kafka_out`` of :data:`streamrec.flows.profile.CLOCK`.
"""

from __future__ import annotations

import time
from typing import Any

from bytewax.connectors.kafka import KafkaSink, KafkaSource
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import StatelessSinkPartition
from streamrec.flows.profile import CLOCK


class _TimedSourcePartition(StatefulSourcePartition):
    def __init__(self, inner: StatefulSourcePartition) -> None:
        self.inner = inner

    def next_batch(self) -> list[Any]:
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
    """:class:`KafkaSource` whose partitions are timed."""

    def build_part(self, step_id: str, for_part: str, resume_state: Any):
        return _TimedSourcePartition(super().build_part(step_id, for_part, resume_state))


class TimedKafkaSink(KafkaSink):
    """:class:`KafkaSink` whose partition is timed."""

    def build(self, step_id: str, worker_index: int, worker_count: int):
        return _TimedSinkPartition(super().build(step_id, worker_index, worker_count))
