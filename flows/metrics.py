"""Prometheus metrics of the recommendation flow (``streamrec run --metrics-port``).

Exported on the default registry, next to Bytewax's own metrics. The flow updates
them once per batch (``observe_many`` adds a whole batch of latencies to a histogram).
Every per-engine metric carries a ``shard`` label: the engine's shard index in the sharded
flow, ``"0"`` in the unsharded one (one figure for the whole flow: sum over ``shard``; the
hit rate and loss are per shard, their mean is an unweighted mean). Stage times are per
process (one clock per process) and carry none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

from streamrec.flows.status_history import StatusHistory
from streamrec.flows.status_server import StatusServer

#: the label that names the engine (shard) a per-engine sample comes from
SHARD = "shard"

EVENTS = Counter("streamrec_events", "Valid click events processed", ["kind", SHARD])
DEAD_LETTERS = Counter("streamrec_dead_letters", "Inputs sent to the dead-letter topic", ["reason", SHARD])
RECOMMENDATIONS = Counter("streamrec_recommendations", "Recommendation messages produced", ["arm", SHARD])
REWARDS = Counter("streamrec_rewards", "Reward records produced", ["outcome", SHARD])
DELIVERY_ERRORS = Counter(
    "streamrec_delivery_errors", "Output messages the Kafka cluster did not accept, by topic", ["topic"]
)
JOIN = Gauge(
    "streamrec_reward_join",
    "Reward-join counters since start: decisions, joins, late, duplicate, "
    "unmatched, not_in_slate, expired_no_click, evicted",
    ["counter", SHARD],
)
LATENCY = Histogram(
    "streamrec_event_latency_seconds",
    "Broker timestamp of the event to its recommendation being produced",
    [SHARD],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PROCESSING = Histogram(
    "streamrec_batch_processing_seconds_per_event",
    "Engine processing time per event (batch time / batch size)",
    [SHARD],
    buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2),
)
EVENTS_PER_SECOND = Gauge("streamrec_events_per_second", "Events/s over the last batch window", [SHARD])
HIT_RATE = Gauge(
    "streamrec_online_hit_rate",
    "Share of click events (since start) whose item was in the last recommendation served to "
    "the same user; events of users not served before are not counted",
    [SHARD],
)
LOSS = Gauge("streamrec_online_logloss", "Running mean log-loss of the learner", [SHARD])
DRIFT = Gauge("streamrec_drift_detected", "1 while a drift was detected recently", [SHARD])
DRIFTS = Gauge("streamrec_drifts_total", "Drifts detected since start", [SHARD])
STATE_BYTES = Gauge("streamrec_state_size_bytes", "Bytes of the RocksDB model state on disk", [SHARD])
STAGE_SECONDS = Counter(
    "streamrec_stage_seconds",
    "Wall seconds spent per stage of the flow (kafka_in, "
    "parse, reward_join, learn_retrieve_rank, exploration, encode, kafka_out, commit, "
    "metrics)",
    ["stage"],
)
INDEX_REFRESHES = Counter(
    "streamrec_index_refreshes",
    "Batches during which the retrieval index was seeded (it is then kept up per event, never rebuilt)",
    [SHARD],
)
MODEL_VERSION = Info("streamrec_model", "Model version currently serving", [SHARD])


#: the last minutes of health and the latest recommendations (status page, progress lines)
STATUS = StatusHistory()


def serve(port: int, host: str = "127.0.0.1") -> StatusServer | None:
    """Start the HTTP endpoint (metrics, probes, status page) on ``host:port`` (0 = off)."""
    return StatusServer(port, host, history=STATUS).start() if port else None


class ShardMetrics:
    """One engine's metric children, each looked up once: ``m(EVENTS, "click")`` is
    ``EVENTS.labels("click", shard)`` (a ``labels()`` call costs a few µs, and a batch
    updates about twenty of them)."""

    def __init__(self, shard: str) -> None:
        self.shard = shard
        self._children: dict[tuple, Any] = {}

    def __call__(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """The child of ``metric`` for ``labels`` and this shard."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels, self.shard)
        return child


def observe_many(hist: Histogram, values: np.ndarray) -> None:
    """``hist.observe(v)`` for every ``v`` in ``values``, in one pass (same bucket rule: v <= bound)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return
    buckets, total = getattr(hist, "_buckets", None), getattr(hist, "_sum", None)
    bounds = getattr(hist, "_upper_bounds", None)
    if buckets is None or total is None or bounds is None:  # another prometheus_client layout
        for v in values.tolist():
            hist.observe(v)
        return
    counts = np.bincount(np.searchsorted(np.asarray(bounds), values, side="left"), minlength=len(bounds))
    for i in np.flatnonzero(counts[: len(bounds)]).tolist():
        buckets[i].inc(int(counts[i]))
    total.inc(float(values.sum()))
