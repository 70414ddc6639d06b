"""Before a command starts its work: can Kafka be reached, do the topics exist?

:func:`wait_for_brokers` asks the cluster for its metadata, says one line per retry
interval while it waits, and after ``timeout_s`` raises :class:`PreflightError` naming the
bootstrap servers. librdkafka's own log goes to the Python logger ``streamrec.kafka``
(:func:`kafka_logger`), at the level the user picks, instead of raw lines on stderr.
:func:`check_topics` reports missing topics (or creates them when asked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

LOGGER_NAME = "streamrec.kafka"


class PreflightError(Exception):
    """A start-up check failed; ``str(exc)`` is the one line to show."""


def kafka_logger() -> logging.Logger:
    """The logger given to every confluent-kafka client (``"logger"`` setting)."""
    return logging.getLogger(LOGGER_NAME)


def client_config(brokers: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A confluent-kafka config with the bootstrap servers and the quiet logger."""
    return {"bootstrap.servers": brokers, "logger": kafka_logger(), **(extra or {})}


def wait_for_brokers(
    brokers: str,
    extra: Mapping[str, Any] | None = None,
    timeout_s: float = 30.0,
    retry_s: float = 5.0,
    say: Callable[[str], None] = print,
) -> Any:
    """Cluster metadata once a broker answers; :class:`PreflightError` after ``timeout_s``."""
    admin = AdminClient(client_config(brokers, extra))
    t0 = time.monotonic()
    last_error = "no answer"
    while True:
        left = timeout_s - (time.monotonic() - t0)
        if left <= 0:
            raise PreflightError(
                f"cannot reach Kafka at {brokers} after {timeout_s:g} s ({last_error}); "
                "check --brokers and the network, or raise --connect-timeout"
            )
        try:
            return admin.list_topics(timeout=max(min(retry_s, left), 0.1))
        except KafkaException as exc:
            last_error = _reason(exc)
            waited = time.monotonic() - t0
            if waited < timeout_s:
                say(f"waiting for Kafka at {brokers} ({waited:.0f}/{timeout_s:g} s): {last_error}")


def check_topics(
    metadata: Any, topics: Iterable[str], brokers: str, create: bool = False, extra: Mapping[str, Any] | None = None
) -> list[str]:
    """The topics that are missing; raises :class:`PreflightError` unless ``create``."""
    missing = [t for t in dict.fromkeys(topics) if t and t not in metadata.topics]
    if missing and not create:
        raise PreflightError(
            f"topic(s) {', '.join(missing)} do not exist on {brokers}; create them or pass --create-topics"
        )
    return missing


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else exc
    text = err.str() if hasattr(err, "str") else str(err)
    return text.splitlines()[0][:200] if text else type(exc).__name__
