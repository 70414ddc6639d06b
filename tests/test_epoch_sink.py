"""The flow's Kafka sink (flows.timed_kafka.EpochKafkaSink) against the embedded broker:
a batch is produced without waiting for the broker, the epoch's snapshot delivers it all,
a full producer queue is waited out, and each engine key's messages stay on its worker."""

from __future__ import annotations

import json
import uuid

from bytewax.connectors.kafka import KafkaSinkMessage
from kafka_helpers import TopicReader

from streamrec.flows.shard_keys import shard_keys
from streamrec.flows.timed_kafka import EpochKafkaSink
from streamrec.shell.broker import ensure_topics


def _messages(topic: str, n: int) -> list[KafkaSinkMessage]:
    return [KafkaSinkMessage(key=b"u%d" % i, value=json.dumps({"i": i}).encode(), topic=topic) for i in range(n)]


def _sink(broker, **conf: str) -> tuple[str, EpochKafkaSink]:
    topic = f"sink-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [topic])
    return topic, EpochKafkaSink([broker.bootstrap], add_config=conf)


def _read_back(broker, topic: str, n: int) -> list[int]:
    reader = TopicReader(broker.bootstrap, topic)
    try:
        return [r["i"] for r in reader.wait_for(n, timeout=20)]
    finally:
        reader.close()


def test_a_batch_is_sent_without_waiting_and_the_epoch_snapshot_delivers_it(broker):
    topic, sink = _sink(broker, **{"linger.ms": "60000"})  # librdkafka holds the batch
    part = sink.build_part("out", sink.list_parts()[0], None)
    part.write_batch(_messages(topic, 300))
    assert len(part.producer) == 300  # returned with every message still queued
    part.snapshot()
    assert len(part.producer) == 0
    assert _read_back(broker, topic, 300) == list(range(300))
    part.close()


def test_a_full_producer_queue_is_waited_out_not_raised(broker):
    topic, sink = _sink(broker, **{"queue.buffering.max.messages": "10", "linger.ms": "1"})
    part = sink.build_part("out", sink.list_parts()[0], None)
    part.write_batch(_messages(topic, 200))  # 20x the queue: BufferError inside, waited out
    part.snapshot()
    assert _read_back(broker, topic, 200) == list(range(200))
    part.close()


def test_an_engine_keys_messages_go_to_the_partition_of_the_worker_that_runs_it():
    keys = shard_keys(8, 4)  # shard s runs on worker s mod 4 (Bytewax's routing)
    sink = EpochKafkaSink(["unused:9092"], n_processes=2, workers_per_process=2)
    parts = sink.list_parts()
    assert parts == sorted(parts) and len(parts) == 4  # Bytewax makes worker i primary of the i-th
    assert [sink.part_fn(k) % len(parts) for k in keys] == [s % 4 for s in range(8)]
    assert EpochKafkaSink(["unused:9092"]).part_fn("model") == 0


def test_a_message_kafka_never_takes_is_counted_and_logged(caplog):
    from streamrec.flows import metrics
    from streamrec.shell.broker import free_port

    sink = EpochKafkaSink([f"127.0.0.1:{free_port()}"], add_config={"message.timeout.ms": "300"})  # nobody there
    part = sink.build_part("out", sink.list_parts()[0], None)
    before = metrics.DELIVERY_ERRORS.labels("nowhere")._value.get()
    part.write_batch(_messages("nowhere", 3))
    part.snapshot()  # the flush gives up on each after message.timeout.ms
    assert metrics.DELIVERY_ERRORS.labels("nowhere")._value.get() - before == 3
    assert "kafka did not accept a message for nowhere" in caplog.text
