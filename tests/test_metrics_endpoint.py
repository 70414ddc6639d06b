"""The Prometheus endpoint of a running flow (``streamrec run --metrics-port``).

The flow is fed in two phases (valid clicks, then more clicks plus contract-breaking
payloads); ``/metrics`` is scraped with urllib after each phase. Proved: every family the
operators rely on is exported, and the counters move by exactly what was sent (events,
dead letters by reason, latency observations), the gauges hold sane values (hit rate in
[0, 1], finite positive log-loss, drift flag 0/1, state size > 0 after a snapshot), and the
model version is exported as an info label.
"""

from __future__ import annotations

import math

import pytest
from kafka_helpers import (
    TopicReader,
    events_payloads,
    metric_sum,
    produce,
    scrape_metrics,
    start_flow,
    stop_flow,
    unique_config,
    wait_for_distinct,
    wait_until,
)

from streamrec.shell.broker import free_port
from streamrec.shell.traffic import ClickGenerator, invalid_payloads

pytestmark = pytest.mark.kafka


def _scrape_when(port: int, predicate, timeout: float = 20.0) -> dict:
    """Scrape until ``predicate(samples)`` holds (counters are updated just before output)."""
    box: dict = {}

    def ok() -> bool:
        try:
            box["s"] = scrape_metrics(port)
        except OSError:
            return False
        return predicate(box["s"])

    wait_until(ok, timeout, step=0.3)
    return box.get("s", {})


def test_metrics_endpoint_exports_the_flow_families_and_they_move(broker, tmp_path):
    port = free_port()
    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=0.5, metrics_port=port)
    gen = ClickGenerator(n_users=40, n_items=150, seed=21)
    first, second = list(gen.events(300)), list(gen.events(200))
    bad = invalid_payloads()
    recs = TopicReader(broker.bootstrap, cfg.out_topic)
    produce(broker.bootstrap, cfg.in_topic, events_payloads(first))
    log = tmp_path / "flow.log"
    flow = start_flow(cfg, log)
    try:
        assert wait_for_distinct(recs, "rec_id", len(first), timeout=120, proc=flow) == len(first)
        s1 = _scrape_when(
            port,
            lambda s: (
                metric_sum(s, "streamrec_state_size_bytes") > 0
                and metric_sum(s, "streamrec_events_total", kind="click") >= len(first)
            ),
        )
        produce(broker.bootstrap, cfg.in_topic, events_payloads(second) + bad)
        assert wait_for_distinct(recs, "rec_id", len(first) + len(second), timeout=120, proc=flow) == 500
        s2 = _scrape_when(
            port,
            lambda s: (
                metric_sum(s, "streamrec_dead_letters_total") >= len(bad)
                and metric_sum(s, "streamrec_events_total", kind="click") >= 500
            ),
        )
        alive = flow.poll() is None
    finally:
        stop_flow(flow)
        recs.close()
    assert alive and s1 and s2, log.read_text(errors="replace")[-3000:]

    # counters: exact, and moving between the scrapes
    assert metric_sum(s1, "streamrec_events_total", kind="click") == len(first)
    assert metric_sum(s2, "streamrec_events_total", kind="click") == len(first) + len(second)
    assert metric_sum(s1, "streamrec_dead_letters_total") == 0
    assert metric_sum(s2, "streamrec_dead_letters_total") == len(bad)
    reasons = {dict(lab)["reason"] for (n, lab), v in s2.items() if n == "streamrec_dead_letters_total" and v}
    assert "malformed_json" in reasons and "payload_too_large" in reasons and "" not in reasons
    assert metric_sum(s2, "streamrec_recommendations_total") == len(first) + len(second)
    assert metric_sum(s2, "streamrec_reward_join", counter="decisions") == len(first) + len(second)

    # latency histogram: one observation per click (all carry a broker timestamp), buckets cumulative
    for s, n in ((s1, len(first)), (s2, len(first) + len(second))):
        assert metric_sum(s, "streamrec_event_latency_seconds_count") == n
        buckets = sorted(
            (float(dict(lab)["le"]), v)
            for (name, lab), v in s.items()
            if name == "streamrec_event_latency_seconds_bucket"
        )
        assert buckets[-1] == (math.inf, n)
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
        assert 0 < metric_sum(s, "streamrec_event_latency_seconds_sum") < 60 * n

    # gauges
    for s in (s1, s2):
        assert 0.0 <= metric_sum(s, "streamrec_online_hit_rate") <= 1.0
        loss = metric_sum(s, "streamrec_online_logloss")
        assert math.isfinite(loss) and loss > 0.0
        assert metric_sum(s, "streamrec_drift_detected") in (0.0, 1.0)
        assert metric_sum(s, "streamrec_state_size_bytes") > 0

    versions = [dict(lab).get("version") for (n, lab), v in s2.items() if n == "streamrec_model_info" and v == 1.0]
    assert len(versions) == 1 and versions[0]


def test_online_hit_rate_gauge_moves_in_the_flow(broker, tmp_path):
    port = free_port()
    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=0.5, metrics_port=port)
    # 20 users x 30 items, 600 clicks with 35% "sequel" continuations: the served top-k must hit
    events = list(ClickGenerator(n_users=20, n_items=30, seed=4).events(600))
    produce(broker.bootstrap, cfg.in_topic, events_payloads(events))
    recs = TopicReader(broker.bootstrap, cfg.out_topic)
    flow = start_flow(cfg, tmp_path / "flow.log")
    try:
        assert wait_for_distinct(recs, "rec_id", len(events), timeout=120, proc=flow) == len(events)
        s = _scrape_when(port, lambda s: metric_sum(s, "streamrec_events_total", kind="click") >= len(events))
    finally:
        stop_flow(flow)
        recs.close()
    assert metric_sum(s, "streamrec_events_total", kind="click") == len(events)
    assert metric_sum(s, "streamrec_online_hit_rate") > 0.0
