"""Parse step: Kafka message -> click event, recommendation request, item metadata or dead letter.

Never raises: anything that breaks the contract becomes a :class:`DeadLetter`
carrying the reason and the raw payload, so the flow keeps running.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

from streamrec.contract.events import (
    ClickEvent,
    InvalidEvent,
    ItemMetadata,
    RecommendationRequest,
    parse_event,
    parse_item_metadata,
)
from streamrec.contract.messages import dead_letter


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be used, with why."""

    reason: str
    raw: bytes | None
    source: str

    def to_dict(self) -> dict:
        return dead_letter(self.raw, self.reason, self.source)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A valid input plus when the broker stamped it (ms since epoch, 0 if unknown)."""

    payload: ClickEvent | ItemMetadata | RecommendationRequest
    broker_ts_ms: int


def pseudonymize(user: str, salt: str) -> str:
    """Keyed hash of a user id, so raw ids never reach state or logs."""
    return "h-" + hashlib.blake2b(user.encode(), key=salt.encode()[:64], digest_size=10).hexdigest()


def _source(msg) -> str:
    """Where a message came from: ``topic/partition@offset``."""
    return f"{msg.topic}/{msg.partition}@{msg.offset}"


def parse_message(msg, items_topic: str = "", user_salt: str = "") -> Arrival | DeadLetter:
    """Turn a ``KafkaSourceMessage`` into an :class:`Arrival` or a :class:`DeadLetter`."""
    try:
        if items_topic and msg.topic == items_topic:
            payload: ClickEvent | ItemMetadata | RecommendationRequest = parse_item_metadata(msg.value)
        else:
            payload = parse_event(msg.value)
            if user_salt:
                payload = replace(payload, user=pseudonymize(payload.user, user_salt))
    except InvalidEvent as exc:
        return DeadLetter(exc.reason, msg.value, _source(msg))
    except Exception as exc:  # noqa: BLE001 -- a parser bug must not stop the flow either
        return DeadLetter(f"parse_error: {type(exc).__name__}: {str(exc)[:200]}", msg.value, _source(msg))
    ts = msg.timestamp
    broker_ts = ts[1] if isinstance(ts, tuple) and len(ts) == 2 and ts[0] != 0 else 0
    if isinstance(payload, RecommendationRequest):  # ids and time from the request, else Kafka
        payload = replace(
            payload,
            event_id=payload.event_id or payload.request_id or f"request@{_source(msg)}",
            ts=payload.ts if payload.ts is not None else (broker_ts / 1000.0 or time.time()),
        )
    return Arrival(payload, int(broker_ts))
