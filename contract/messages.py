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

import orjson

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
    return recommendation_record(
        rec_id_for(event.event_id),
        event.event_id,
        event.user,
        event.ts,
        [i for i, _, _ in items],
        [round(float(s), 6) for _, s, _ in items],
        [round(float(p), 6) for _, _, p in items],
        policy,
        model_version,
        round(float(latency_ms), 3),
        arm,
    )


def recommendation_record(
    rec_id: str,
    event_id: str,
    user: str,
    ts: float,
    items: list[str],
    scores: list[float],
    propensities: list[float],
    policy: str,
    model_version: str,
    latency_ms: float,
    arm: str | None = None,
) -> dict[str, Any]:
    """The message from columns (scores, propensities and latency already rounded, finite)."""
    msg: dict[str, Any] = {
        "rec_id": rec_id,
        "event_id": event_id,
        "user": user,
        "ts": ts,
        "items": [{"item": i, "score": s, "propensity": p} for i, s, p in zip(items, scores, propensities)],
        "policy": policy,
        "model_version": model_version,
        "latency_ms": latency_ms,
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
    """Compact JSON bytes (orjson). Never raises on strings: what orjson refuses (lone
    surrogates, integers beyond 64 bits) goes through ``json`` with surrogates
    backslash-escaped. Non-finite floats are written as ``null`` (orjson's rule), so
    callers pass finite numbers (the flow cleans scores before encoding)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        return text.encode("utf-8", errors="backslashreplace")
