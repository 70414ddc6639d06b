"""Bytewax's Kafka source, timed, with a clean stop; a Kafka sink that flushes once per epoch.

The source partitions are the stock ones; the wrapper charges the wall time of
``next_batch`` to ``kafka_in`` of :data:`streamrec.flows.profile.CLOCK`, and hands the
messages already queued without waiting (:class:`_QueuedFirst`: Bytewax's partition waits
1 ms for a full batch each time, ~10% of a steady 5,000 events/s's batch cycle).

The sink: Bytewax's ``KafkaSink`` flushes its producer after every batch, so the step
waits for the broker's acknowledgements (a round trip, ~1-3 ms) each batch; at a steady
rate with batches of tens of events that was 20-40 µs per event of the flow's thread.
:class:`EpochKafkaSink` produces without waiting and flushes where at-least-once needs it:
in its partition's ``snapshot``, which Bytewax calls at the end of every epoch in which the
partition wrote, before that epoch's snapshots are stored (so a resumed epoch never lacks
outputs of the epochs before it), and at ``close``. It is a ``FixedPartitionedSink`` with
one partition per worker: Bytewax makes worker ``i`` the primary of the ``i``-th partition
in key order (its ``calc_primaries`` deals partitions out to the workers with the fewest,
lowest index first), and ``part_fn`` sends a message keyed by an engine key to the
partition of the worker that runs that key, so no message crosses workers. Time in
``write_batch`` and ``snapshot`` goes to ``kafka_out``.

Stopping: a tail-mode source never ends, so Ctrl-C used to interrupt Bytewax mid-batch
(a Rust panic, a traceback, exit 1). Once :data:`STOP` is set (``streamrec run``'s
SIGINT/SIGTERM handler does it), every source partition reports end-of-input: Bytewax
finishes the batch in flight, closes the epoch, writes its final snapshot (the engine
commits the model with it) and returns normally. A restart resumes from that snapshot;
every Kafka partition is rebuilt from its stored offset.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSource
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import Producer

from streamrec.flows import metrics
from streamrec.flows.profile import CLOCK
from streamrec.flows.shard_keys import bytewax_worker

log = logging.getLogger("streamrec.flow")

#: set to end the flow cleanly (see module docstring)
STOP = threading.Event()


class _QueuedFirst:
    """A consumer whose ``consume(n, timeout)`` returns what is already queued at once and
    waits up to ``timeout`` only when nothing is (Bytewax asks for ``batch_size`` messages
    with a 1 ms timeout, which librdkafka waits out whenever fewer are queued)."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        return self._consumer.consume(num_messages, 0) or self._consumer.consume(num_messages, timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


class _TimedSourcePartition(StatefulSourcePartition):
    def __init__(self, inner: StatefulSourcePartition) -> None:
        self.inner = inner
        if hasattr(inner, "_consumer"):  # Bytewax 0.21's KafkaSource partition
            inner._consumer = _QueuedFirst(inner._consumer)

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


_refused: dict[str, int] = {}


def _delivered(err: Any, msg: Any) -> None:
    """Producer delivery report: a message Kafka did not take is counted, and logged (the
    first of a topic and every 1,000th after), not lost silently."""
    if err is not None:
        topic = msg.topic() or ""
        metrics.DELIVERY_ERRORS.labels(topic).inc()
        n = _refused[topic] = _refused.get(topic, 0) + 1
        if n % 1000 == 1:
            log.error("kafka did not accept a message for %s (%d so far): %s", topic, n, err)


class _EpochSinkPartition(StatefulSinkPartition[KafkaSinkMessage, None]):
    def __init__(self, producer: Producer) -> None:
        self.producer = producer

    def write_batch(self, items: list[KafkaSinkMessage]) -> None:
        t = time.perf_counter()
        for msg in items:
            if msg.topic is None:  # the flow names every message's topic
                raise RuntimeError(f"no topic to produce to for {msg}")
            while True:
                try:
                    self._produce(msg.topic, msg)
                    break
                except BufferError:  # librdkafka's queue is full: let it deliver some first
                    self.producer.poll(0.05)
        self.producer.poll(0)
        CLOCK.add("kafka_out", time.perf_counter() - t)

    def _produce(self, topic: str, msg: KafkaSinkMessage) -> None:
        headers: Any = msg.headers  # Bytewax's list of (str, bytes) pairs, as confluent-kafka takes them
        self.producer.produce(topic, msg.value, msg.key, headers=headers, timestamp=msg.timestamp)

    def snapshot(self) -> None:
        t = time.perf_counter()
        self.producer.flush()
        CLOCK.add("kafka_out", time.perf_counter() - t)

    def close(self) -> None:
        self.producer.flush()


class EpochKafkaSink(FixedPartitionedSink[KafkaSinkMessage, None]):
    """Writes ``(engine key, KafkaSinkMessage)`` items (each message names its topic) with
    one producer per worker, flushed at the end of each epoch, in process ``process_id`` of
    a cluster of ``n_processes`` x ``workers_per_process`` workers (see the module docstring)."""

    def __init__(
        self,
        brokers: list[str],
        n_processes: int = 1,
        workers_per_process: int = 1,
        process_id: int = 0,
        add_config: dict[str, Any] | None = None,
    ) -> None:
        self.brokers, self.add_config = brokers, dict(add_config or {})
        self.n_workers = n_processes * workers_per_process
        self.workers_per_process, self.process_id = workers_per_process, process_id
        self._part_of: dict[str, int] = {}

    def list_parts(self) -> list[str]:
        return [f"worker-{i:05d}" for i in range(self.n_workers)]

    def part_fn(self, item_key: str) -> int:
        part = self._part_of.get(item_key)
        if part is None:
            part = self._part_of[item_key] = bytewax_worker(item_key, self.n_workers)
        return part

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _EpochSinkPartition:
        owner = int(for_part.rsplit("-", 1)[1]) // self.workers_per_process
        if owner != self.process_id:  # Bytewax assigned partitions otherwise than its source says
            log.warning(
                "kafka sink %s is written by process %d, not %d: messages cross processes",
                for_part,
                self.process_id,
                owner,
            )
        conf = {"bootstrap.servers": ",".join(self.brokers), "on_delivery": _delivered, **self.add_config}
        return _EpochSinkPartition(Producer(conf))


class TimedKafkaSource(KafkaSource):
    """:class:`KafkaSource` whose partitions are timed and end once :data:`STOP` is set."""

    def build_part(self, step_id: str, for_part: str, resume_state: Any):
        return _TimedSourcePartition(super().build_part(step_id, for_part, resume_state))
