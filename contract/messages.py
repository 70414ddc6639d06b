"""Outgoing messages of the flow: recommendations and dead letters, and their ids.

``rec_id_for`` is deterministic in the event id, so a recommendation re-sent
after a crash-resume is recognisable (subscribers drop duplicates by it).

>>> rec_id_for("e1") == rec_id_for("e1") != rec_id_for("e2")
True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from streamrec.contract.events import ClickEvent


def rec_id_for(event_id: str, salt: str = "") -> str:
    """Deterministic recommendation id: the same event always gets the same id."""
    return "r-" + hashlib.blake2b(f"{salt}|{event_id}".encode(), digest_size=12).hexdigest()


def stable_seed(*parts: str) -> int:
    """A 63-bit seed from strings, stable across processes (unlike ``hash``)."""
    h = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFF_FFFF_FFFF_FFFF


def recommendation_message(
    event: ClickEvent,
    items: list[tuple[str, float, float]],
    policy: str,
    model_version: str,
    latency_ms: float,
    arm: str | None = None,
) -> dict[str, Any]:
    """The outgoing message; ``items`` is ``[(item, score, propensity), ...]`` best first."""
    msg: dict[str, Any] = {
        "rec_id": rec_id_for(event.event_id),
        "event_id": event.event_id,
        "user": event.user,
        "ts": event.ts,
        "items": [
            {"item": i, "score": round(float(s), 6), "propensity": round(float(p), 6)}
            for i, s, p in items
        ],
        "policy": policy,
        "model_version": model_version,
        "latency_ms": round(float(latency_ms), 3),
    }
    if arm is not None:
        msg["arm"] = arm
    return msg


def dead_letter(raw: bytes | str | None, reason: str, source: str = "") -> dict[str, Any]:
    """A dead-letter record: the reason and the raw payload (decoded lossily, truncated)."""
    if isinstance(raw, (bytes, bytearray)):
        text = bytes(raw[:4096]).decode("utf-8", errors="replace")
    else:
        text = (raw or "")[:4096]
    return {"reason": reason, "source": source, "raw": text, "raw_bytes": len(raw or b"")}


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (no NaN allowed)."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.encode("utf-8", errors="backslashreplace")  # never raises on stray surrogates
