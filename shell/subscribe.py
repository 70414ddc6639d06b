"""Subscribe to the recommendations topic (Python API behind ``streamrec subscribe``).

The Kafka sink is at-least-once: after a crash and resume the flow re-sends
the recommendations of the replayed epoch with the same ``rec_id``.
:func:`subscribe` drops such duplicates with a bounded memory of recent ids.

>>> for rec in subscribe("127.0.0.1:9092", "recommendations", user="u1"):  # doctest: +SKIP
...     print(rec["items"][0]["item"])
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition


class SeenIds:
    """Remember the last ``capacity`` ids; ``add`` says whether an id is new."""

    def __init__(self, capacity: int = 1_000_000):
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


def _consumer(
    brokers: str, topic: str, from_beginning: bool, group: str | None, kafka_config: Mapping[str, str] | None
) -> Consumer:
    conf = {
        "bootstrap.servers": brokers,
        "logger": logging.getLogger("streamrec.kafka"),
        "group.id": group or "streamrec-subscribe",
        "enable.auto.commit": bool(group),
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "fetch.wait.max.ms": 10,
        **(kafka_config or {}),
    }
    consumer = Consumer(conf)
    if group:
        consumer.subscribe([topic])
    else:  # no group coordination: read every partition directly
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in parts])
    return consumer


def subscribe(
    brokers: str,
    topic: str = "recommendations",
    user: str | None = None,
    from_beginning: bool = False,
    group: str | None = None,
    kafka_config: Mapping[str, str] | None = None,
    dedupe: bool = True,
    idle_timeout_s: float | None = None,
    max_messages: int | None = None,
) -> Iterator[dict]:
    """Yield recommendation messages as they arrive, optionally for one ``user`` only.

    Stops after ``idle_timeout_s`` seconds without a message or after
    ``max_messages`` yielded messages (either may be None: run until closed).
    Messages that are not valid JSON objects are skipped.
    """
    consumer = _consumer(brokers, topic, from_beginning, group, kafka_config)
    seen = SeenIds()
    yielded = 0
    last = time.monotonic()
    try:
        while max_messages is None or yielded < max_messages:
            batch = consumer.consume(500, 0.2)
            if not batch:
                if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                    return
                continue
            last = time.monotonic()
            for m in batch:
                value = m.value()
                if m.error() or value is None:
                    continue
                try:
                    rec = json.loads(value)
                except ValueError:
                    continue
                if not isinstance(rec, dict):
                    continue
                if user is not None and rec.get("user") != user:
                    continue
                key = (rec.get("rec_id"), rec.get("event_id"))  # stable across re-sends
                if dedupe and key != (None, None) and not seen.add(repr(key)):
                    continue
                yield rec
                yielded += 1
                if max_messages is not None and yielded >= max_messages:
                    return
    finally:
        consumer.close()


def format_recommendation(rec: Mapping, width: int = 10) -> str:
    """One terminal line: user, the shown items best first with their propensity (``p=``: the
    probability the exploration policy shows that item in that slot), policy, version, latency."""
    items = " ".join(f"{i['item']}(p={i['propensity']:.2f})" for i in rec.get("items", [])[:width])
    arm = f" arm={rec['arm']}" if rec.get("arm") else ""
    return (
        f"user={rec.get('user')} -> {items}  [{rec.get('policy')} {rec.get('model_version')}"
        f"{arm} {rec.get('latency_ms', 0):.1f}ms]"
    )
