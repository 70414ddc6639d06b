"""A Kafka source that ends cleanly when asked: the way a tail-mode flow stops.

A tail-mode ``KafkaSource`` never ends, so Ctrl-C used to interrupt Bytewax mid-batch
(a Rust panic, a traceback, exit 1). Here every partition checks a shared
:class:`threading.Event`: once it is set (by the SIGINT/SIGTERM handler of ``streamrec
run``), each partition emits what it already consumed and then reports end-of-input,
so Bytewax finishes the batch in flight, closes the epoch, writes its final snapshot (the
engine commits the model with it) and returns normally. A restart resumes from that
snapshot: every Kafka partition is rebuilt from its stored offset.
"""

from __future__ import annotations

import threading
from typing import Any

from bytewax.connectors.kafka import KafkaSource
from bytewax.inputs import StatefulSourcePartition


class _StoppablePartition(StatefulSourcePartition[Any, Any]):
    """Delegates to a Kafka partition until ``stop`` is set, then ends."""

    def __init__(self, inner: StatefulSourcePartition[Any, Any], stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def next_batch(self) -> list[Any]:
        if self._stop.is_set():
            raise StopIteration()
        return self._inner.next_batch()

    def next_awake(self) -> Any:
        return self._inner.next_awake()

    def snapshot(self) -> Any:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class StoppableKafkaSource(KafkaSource):
    """``KafkaSource`` whose partitions end once ``stop`` is set (see module docstring)."""

    def __init__(self, *args: Any, stop: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop = stop

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _StoppablePartition:
        return _StoppablePartition(super().build_part(step_id, for_part, resume_state), self.stop)
