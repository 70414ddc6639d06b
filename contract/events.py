"""The event contract: click events in, recommendation messages out.

A click event is one JSON object (see ``schemas/click_event.schema.json``)::

    {"event_id": "e1", "ts": 1700000000.0, "user": "u1", "item": "i9",
     "type": "click", "value": 1.0, "context": {"device": "mobile"},
     "item_attributes": {"genres": ["drama"]}, "rec_id": "r-..."}

``parse_click`` turns raw bytes into a :class:`ClickEvent` or raises
:class:`InvalidEvent` whose ``reason`` says what is wrong. It only ever decodes
JSON (``orjson``, with the standard ``json`` module as the slow path that names
the reason whenever orjson refuses a payload); nothing from outside is unpickled
or evaluated. Unknown extra fields are tolerated and dropped.

Context and attribute values are flattened to scalars: strings, finite
numbers, booleans, or lists of strings (multi-valued, e.g. genres).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_ID_CHARS = 256
MAX_MAP_ENTRIES = 64
MAX_LIST_ITEMS = 64
MAX_VALUE_CHARS = 256
MAX_VALUE_ABS = 1e9
#: Accepted event-time range in seconds since the epoch (1990-01-01 .. 2100-01-01).
TS_MIN = 631_152_000.0
TS_MAX = 4_102_444_800.0

EVENT_TYPES = frozenset({"click", "view", "purchase", "rating", "impression", "add_to_cart", "like", "skip"})
#: Types whose event is a positive interaction for learning.
POSITIVE_TYPES = frozenset({"click", "view", "purchase", "rating", "add_to_cart", "like"})

Scalar = str | float | bool | tuple[str, ...]


class InvalidEvent(ValueError):
    """Raised for input that breaks the contract; ``reason`` is a short code plus detail."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ClickEvent:
    """One user-item interaction, validated."""

    event_id: str
    ts: float
    user: str
    item: str
    type: str = "click"
    value: float | None = None
    context: Mapping[str, Scalar] = field(default_factory=dict)
    item_attributes: Mapping[str, Scalar] = field(default_factory=dict)
    rec_id: str | None = None

    @property
    def is_positive(self) -> bool:
        """True when the event is a positive interaction (not an impression or skip)."""
        return self.type in POSITIVE_TYPES

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict in the contract's field names."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "ts": self.ts,
            "user": self.user,
            "item": self.item,
            "type": self.type,
        }
        if self.value is not None:
            out["value"] = self.value
        if self.context:
            out["context"] = {k: _jsonable(v) for k, v in self.context.items()}
        if self.item_attributes:
            out["item_attributes"] = {k: _jsonable(v) for k, v in self.item_attributes.items()}
        if self.rec_id is not None:
            out["rec_id"] = self.rec_id
        return out


#: ``type`` of a request for recommendations: answered, never learned from
REQUEST_TYPE = "request"


@dataclass(frozen=True, slots=True)
class RecommendationRequest:
    """A front end asks for a user's list without a click (``"type": "request"``).

    ``{"type": "request", "user": "u1", "context": {...}, "request_id": "r9"}``; ``event_id``
    and ``ts`` are optional (the flow takes the request id or the Kafka position, and the
    broker time). The answer is a recommendation message carrying ``request_id``.
    """

    user: str
    context: Mapping[str, Scalar] = field(default_factory=dict)
    request_id: str | None = None
    event_id: str | None = None
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class ItemMetadata:
    """Item attributes arriving on their own topic: ``{"item": "i9", "attributes": {...}}``."""

    item: str
    attributes: Mapping[str, Scalar]


def _jsonable(v: Scalar) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _reject_constant(name: str) -> float:
    raise InvalidEvent(f"non_finite_number: {name} is not allowed")


#: orjson reads an integer literal beyond 64 bits as a float (json keeps it an int); such a
#: float is at least this large in magnitude.
_WIDE = 2.0**63


def _wide_float(obj: Any) -> bool:
    """Whether a float of magnitude >= 2**63 sits anywhere in the decoded object: orjson's
    reading of it (maybe an integer beyond 64 bits) may differ from json's. A walk with a
    stack, not recursion: orjson accepts nesting deeper than Python's recursion limit."""
    stack = [obj]
    while stack:
        o = stack.pop()
        for v in o.values() if type(o) is dict else o:
            t = type(v)
            if t is float:
                if abs(v) >= _WIDE:
                    return True
            elif t is dict or t is list:
                stack.append(v)
    return False


def load_json(raw: bytes | str | None) -> dict[str, Any]:
    """Decode one JSON object with size, NaN and type guards.

    Fast path ``orjson.loads``. Whatever it refuses (NaN/Infinity literals, lone
    surrogate escapes, control characters, bad UTF-8, deep nesting, overflowing
    numbers) and objects holding a float of magnitude >= 2**63 anywhere (maybe an integer
    beyond 64 bits, which orjson reads as a float: :func:`_wide_float`)
    go through :func:`_load_json_std`, so results and reasons equal the ``json`` module's.
    """
    if raw is None:
        raise InvalidEvent("empty_payload: message has no value")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise InvalidEvent(f"payload_too_large: {len(raw)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        obj = orjson.loads(raw)
    except Exception:  # noqa: BLE001 -- any refusal: the standard parser names the reason
        return _load_json_std(raw)
    if type(obj) is not dict:
        raise InvalidEvent(f"not_an_object: top-level JSON is {type(obj).__name__}")
    if _wide_float(obj):
        return _load_json_std(raw)
    return obj


def _load_json_std(raw: bytes | str) -> dict[str, Any]:
    """The reference decoder (``json``), used when orjson refuses a payload."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"bad_encoding: not UTF-8 ({exc.reason})") from None
    try:
        obj = json.loads(raw, parse_constant=_reject_constant)
    except InvalidEvent:
        raise
    except RecursionError:
        raise InvalidEvent("too_deep: JSON nesting too deep") from None
    except (ValueError, TypeError) as exc:
        raise InvalidEvent(f"malformed_json: {str(exc)[:120]}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"not_an_object: top-level JSON is {type(obj).__name__}")
    return obj


def _id(obj: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    v = obj.get(name)
    if type(v) is str and 0 < len(v) <= MAX_ID_CHARS and v.isascii() and v.isprintable():
        return v  # the common case; ASCII holds no lone surrogates
    if v is None:
        if required:
            raise InvalidEvent(f"missing_field: {name}")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise InvalidEvent(f"wrong_type: {name} must be a string or integer")
    s = str(v)
    if not s or len(s) > MAX_ID_CHARS:
        raise InvalidEvent(f"bad_id: {name} must have 1..{MAX_ID_CHARS} characters")
    if not s.isprintable():
        raise InvalidEvent(f"bad_id: {name} has control characters")
    return _text(s, name)


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidEvent(f"wrong_type: {name} must be a number")
    try:
        f = float(v)
    except OverflowError:
        raise InvalidEvent(f"out_of_range: {name} is too large") from None
    if not math.isfinite(f):
        raise InvalidEvent(f"non_finite_number: {name}")
    return f


def _text(s: str, name: str) -> str:
    """A string that can be written back out as UTF-8 (no lone surrogates)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(f"bad_encoding: {name} has lone surrogates") from None
    return s


def _scalar(v: Any, name: str) -> Scalar:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if len(v) > MAX_VALUE_CHARS:
            raise InvalidEvent(f"value_too_long: {name}")
        return _text(v, name)
    if isinstance(v, (int, float)):
        f = _number(v, name)
        if abs(f) > MAX_VALUE_ABS:
            raise InvalidEvent(f"out_of_range: {name}")
        return f
    if isinstance(v, list):
        if len(v) > MAX_LIST_ITEMS:
            raise InvalidEvent(f"list_too_long: {name}")
        out = []
        for x in v:
            if isinstance(x, bool) or not isinstance(x, (str, int)):
                raise InvalidEvent(f"wrong_type: {name} list items must be strings")
            s = str(x)
            if len(s) > MAX_VALUE_CHARS:
                raise InvalidEvent(f"value_too_long: {name}")
            out.append(_text(s, name))
        return tuple(out)
    raise InvalidEvent(f"wrong_type: {name} must be a string, number, boolean or list of strings")


def _mapping(obj: Mapping[str, Any], name: str) -> dict[str, Scalar]:
    v = obj.get(name)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidEvent(f"wrong_type: {name} must be an object")
    if len(v) > MAX_MAP_ENTRIES:
        raise InvalidEvent(f"too_many_entries: {name} has {len(v)} > {MAX_MAP_ENTRIES}")
    out: dict[str, Scalar] = {}
    for k, x in v.items():
        if type(x) is str and len(x) <= MAX_VALUE_CHARS and x.isascii() and len(k) <= MAX_ID_CHARS and k.isascii():
            out[k] = x  # the common case (ASCII: no lone surrogates)
            continue
        if len(k) > MAX_ID_CHARS:
            raise InvalidEvent(f"bad_key: {name} key too long")
        _text(k, f"{name} key")
        if x is None:
            continue
        out[k] = _scalar(x, f"{name}.{k}")
    return out


def event_from_dict(obj: Mapping[str, Any]) -> ClickEvent:
    """Validate a decoded JSON object against the click-event contract."""
    ts = _number(obj.get("ts") if "ts" in obj else _missing("ts"), "ts")
    if not TS_MIN <= ts <= TS_MAX:
        raise InvalidEvent(f"ts_out_of_range: {ts} not in [{TS_MIN:.0f}, {TS_MAX:.0f}]")
    etype = obj.get("type", "click")
    if not isinstance(etype, str):
        raise InvalidEvent("wrong_type: type must be a string")
    if etype not in EVENT_TYPES:
        raise InvalidEvent(f"unknown_type: {etype[:40]!r}; expected one of {sorted(EVENT_TYPES)}")
    value = obj.get("value")
    if value is not None:
        value = _number(value, "value")
        if abs(value) > MAX_VALUE_ABS:
            raise InvalidEvent("out_of_range: value")
    return ClickEvent(
        event_id=_id(obj, "event_id"),  # type: ignore[arg-type]
        ts=ts,
        user=_id(obj, "user"),  # type: ignore[arg-type]
        item=_id(obj, "item"),  # type: ignore[arg-type]
        type=etype,
        value=value,
        context=_mapping(obj, "context"),
        item_attributes=_mapping(obj, "item_attributes"),
        rec_id=_id(obj, "rec_id", required=False),
    )


def _missing(name: str) -> Any:
    raise InvalidEvent(f"missing_field: {name}")


def parse_click(raw: bytes | str | None) -> ClickEvent:
    """Parse and validate one click event; raises :class:`InvalidEvent`."""
    return event_from_dict(load_json(raw))


def request_from_dict(obj: Mapping[str, Any]) -> RecommendationRequest:
    """Validate a decoded ``"type": "request"`` object."""
    ts = None
    if obj.get("ts") is not None:
        ts = _number(obj["ts"], "ts")
        if not TS_MIN <= ts <= TS_MAX:
            raise InvalidEvent(f"ts_out_of_range: {ts} not in [{TS_MIN:.0f}, {TS_MAX:.0f}]")
    return RecommendationRequest(
        user=_id(obj, "user"),  # type: ignore[arg-type]
        context=_mapping(obj, "context"),
        request_id=_id(obj, "request_id", required=False),
        event_id=_id(obj, "event_id", required=False),
        ts=ts,
    )


def parse_event(raw: bytes | str | None) -> ClickEvent | RecommendationRequest:
    """A click event, or a request when ``type`` is ``"request"``; raises :class:`InvalidEvent`."""
    obj = load_json(raw)
    if obj.get("type") == REQUEST_TYPE:
        return request_from_dict(obj)
    return event_from_dict(obj)


def parse_item_metadata(raw: bytes | str | None) -> ItemMetadata:
    """Parse ``{"item": ..., "attributes": {...}}``; raises :class:`InvalidEvent`."""
    obj = load_json(raw)
    return ItemMetadata(item=_id(obj, "item"), attributes=_mapping(obj, "attributes"))  # type: ignore[arg-type]
