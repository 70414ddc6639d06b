"""A short history of the flow's health, sampled from its Prometheus metrics.

Every ``interval_s`` a sampler reads the registry and appends one point: events/s over
the interval, broker-to-recommendation latency percentiles of the interval, the online
hit rate, drift, dead letters; ``capacity`` points are kept (10 minutes at 1 s). The
latency percentiles come from the histogram's bucket counts of the interval, linearly
interpolated inside the bucket that holds the quantile (the estimate Prometheus'
``histogram_quantile`` makes). A figure is one for the whole process, over the ``shard``
labels of its engines (:func:`read_registry`). The engine step adds the latest recommendations with
:meth:`StatusHistory.add_recommendations`. ``snapshot()`` is what ``/status.json`` serves.

>>> from prometheus_client import CollectorRegistry, Counter
>>> reg = CollectorRegistry()
>>> events = Counter("streamrec_events", "x", ["kind", "shard"], registry=reg)
>>> h = StatusHistory(reg, interval_s=1.0)
>>> h.sample(now=0.0)
>>> events.labels("click", "0").inc(30); events.labels("click", "1").inc(20)
>>> h.sample(now=2.0)
>>> h.snapshot()["points"][-1]["events_per_s"]
25.0
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99, "p999": 0.999}


def read_registry(registry: CollectorRegistry) -> dict[str, Any]:
    """Totals of the streamrec metrics now, over every ``shard`` label: counters and histogram
    buckets summed, the hit rate averaged, drift the largest, versions joined in shard order."""
    out: dict[str, Any] = {"events": 0.0, "dead_letters": {}, "buckets": [], "version": ""}
    buckets: dict[float, float] = {}
    hit_rates: list[float] = []
    versions: dict[str, str] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name == "streamrec_events_total":
                out["events"] += s.value
            elif s.name == "streamrec_dead_letters_total":
                reason = s.labels.get("reason", "")
                out["dead_letters"][reason] = out["dead_letters"].get(reason, 0.0) + s.value
            elif s.name == "streamrec_event_latency_seconds_bucket":
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
            elif s.name == "streamrec_online_hit_rate":
                hit_rates.append(s.value)
            elif s.name == "streamrec_drift_detected":
                out["drift"] = max(out.get("drift", 0.0), s.value)
            elif s.name == "streamrec_drifts_total":
                out["drifts"] = out.get("drifts", 0.0) + s.value
            elif s.name == "streamrec_model_info":
                versions[s.labels.get("shard", "0")] = s.labels.get("version", "")
    out["buckets"] = sorted(buckets.items())
    if hit_rates:
        out["hit_rate"] = sum(hit_rates) / len(hit_rates)
    out["version"] = " ".join(versions[k] for k in sorted(versions, key=lambda k: (len(k), k)))
    return out


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Quantile ``q`` from cumulative ``(upper_bound, count)`` buckets (None if empty)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = upper, count
    return lower


class StatusHistory:
    """Ring buffer of health points plus the latest recommendations (thread-safe)."""

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, interval_s: float = 1.0, capacity: int = 600, n_latest: int = 10
    ) -> None:
        self.registry = registry
        self.interval_s = float(interval_s)
        self.points: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.latest: deque[dict[str, Any]] = deque(maxlen=n_latest)
        self.ready = False
        self._last: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = False

    def sample(self, now: float | None = None) -> None:
        """Append one point computed against the previous reading."""
        now = time.time() if now is None else now
        cur = read_registry(self.registry)
        with self._lock:
            if self._last is not None:
                t0, prev = self._last
                dt = max(now - t0, 1e-9)
                window = [(le, c - dict(prev["buckets"]).get(le, 0.0)) for le, c in cur["buckets"]]
                point: dict[str, Any] = {
                    "t": now,
                    "events_total": cur["events"],
                    "events_per_s": (cur["events"] - prev["events"]) / dt,
                    "hit_rate": cur.get("hit_rate"),
                    "drift": cur.get("drift"),
                    "drifts": cur.get("drifts"),
                    "version": cur["version"],
                    "dead_letters": dict(cur["dead_letters"]),
                }
                for name, q in QUANTILES.items():
                    point[f"latency_{name}_ms"] = _ms(bucket_quantile(q, window))
                self.points.append(point)
            self._last = (now, cur)

    def add_recommendations(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Remember the newest recommendation messages (their user, items, propensities)."""
        with self._lock:
            for m in messages:
                self.latest.append(
                    {
                        "user": m.get("user"),
                        "ts": m.get("ts"),
                        "arm": m.get("arm"),
                        "model_version": m.get("model_version"),
                        "items": list(m.get("items", [])),
                    }
                )

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: the points (oldest first), the latest recommendations, readiness."""
        with self._lock:
            return {
                "interval_s": self.interval_s,
                "ready": self.ready,
                "points": list(self.points),
                "latest": list(reversed(self.latest)),
            }

    def start(self) -> None:
        """Sample every ``interval_s`` in a daemon thread until :meth:`stop` (once)."""
        if self._started:
            return
        self._started = True

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self.sample()

        self.sample()
        threading.Thread(target=loop, name="streamrec-status", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)
