"""Broker stall: the broker process is frozen (SIGSTOP) for 20 s mid-stream, then resumed (SIGCONT).

Uses its own :class:`EmbeddedBroker` (not the session one) so the stall cannot hurt other
tests. The flow is in the middle of a backlog when the broker freezes, and more clicks are
produced while it is frozen (they sit in the producer's buffer until SIGCONT).

Proved here: the flow process survives the stall (no crash, no exit), resumes by itself,
and loses nothing: every valid event gets exactly one recommendation (no restart happened,
so there is no reason for a duplicate either), and no valid click ends in the dead-letter
topic. Transient client errors during the stall, if any, may reach the dead-letter topic as
``kafka_error`` records (``raise_on_errors=False``); they are counted, not forbidden.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from confluent_kafka import Producer
from kafka_helpers import (
    TopicReader,
    events_payloads,
    produce,
    start_flow,
    stop_flow,
    unique_config,
    wait_for_distinct,
)

from streamrec.contract.messages import rec_id_for
from streamrec.shell.broker import EmbeddedBroker
from streamrec.shell.traffic import ClickGenerator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STALL_S = 20.0
N_BEFORE, N_DURING = 6000, 2000


@pytest.fixture()
def own_broker(tmp_path):
    with EmbeddedBroker(log_path=str(tmp_path / "broker.log")) as b:
        yield b


def test_flow_survives_a_20s_broker_freeze_and_loses_nothing(own_broker, tmp_path):
    cfg = unique_config(own_broker.bootstrap, tmp_path / "state", snapshot_interval_s=0.5)
    gen = ClickGenerator(n_users=200, n_items=600, seed=7)
    before, during = list(gen.events(N_BEFORE)), list(gen.events(N_DURING))
    produce(own_broker.bootstrap, cfg.in_topic, events_payloads(before))
    recs = TopicReader(own_broker.bootstrap, cfg.out_topic)
    dlq = TopicReader(own_broker.bootstrap, cfg.dlq_topic)
    log = tmp_path / "flow.log"
    flow = start_flow(cfg, log)
    late = Producer({"bootstrap.servers": own_broker.bootstrap, "linger.ms": 5})
    stalled = False
    try:
        at_stall = wait_for_distinct(recs, "rec_id", 1000, timeout=120, proc=flow)
        assert flow.poll() is None and at_stall >= 1000, log.read_text(errors="replace")[-3000:]
        os.kill(own_broker.pid, signal.SIGSTOP)
        stalled = True
        t0 = time.monotonic()
        for raw in events_payloads(during):  # buffered by the client while the broker is frozen
            late.produce(cfg.in_topic, value=raw)
            late.poll(0)
        time.sleep(max(0.0, STALL_S - (time.monotonic() - t0)))
        alive_during_stall = flow.poll() is None
        os.kill(own_broker.pid, signal.SIGCONT)
        stalled = False
        assert late.flush(60) == 0, "clicks produced during the stall were not delivered"
        n = wait_for_distinct(recs, "rec_id", N_BEFORE + N_DURING, timeout=180, proc=flow)
        recs.poll(1.0)
        dlq.poll(1.0)
        alive_at_end = flow.poll() is None
    finally:
        if stalled:
            os.kill(own_broker.pid, signal.SIGCONT)
        stop_flow(flow)
        recs.close()
        dlq.close()

    tail = log.read_text(errors="replace")[-3000:]
    assert alive_during_stall and alive_at_end, tail
    assert at_stall < N_BEFORE, "the backlog was done before the stall: nothing was in flight"
    assert n == N_BEFORE + N_DURING, tail
    ids = [r["rec_id"] for r in recs.records]
    assert len(ids) == len(set(ids)), "duplicate recommendations without any restart"
    assert set(ids) == {rec_id_for(e["event_id"]) for e in before + during}
    assert all(d["reason"].startswith("kafka_error") for d in dlq.records), dlq.records[:5]
