"""The event contract: parser, JSON Schemas and recommendation messages agree."""

from __future__ import annotations

import json
import math
from importlib import resources

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.contract.events import ClickEvent, InvalidEvent, parse_click, parse_item_metadata
from streamrec.contract.messages import rec_id_for, recommendation_message, stable_seed
from streamrec.shell.traffic import ClickGenerator, invalid_payloads


def _schema(name: str) -> dict:
    return json.loads(resources.files("streamrec.contract").joinpath("schemas", name).read_text())


CLICK_SCHEMA = _schema("click_event.schema.json")
REC_SCHEMA = _schema("recommendation.schema.json")

VALID = [
    {"event_id": "e1", "ts": 1.7e9, "user": "u1", "item": "i1"},
    {
        "event_id": 7,
        "ts": 874731910,
        "user": 259,
        "item": 255,
        "type": "rating",
        "value": 4.0,
        "context": {"age": 21, "gender": "M"},
        "item_attributes": {"genres": ["comedy", "romance"]},
        "extra": {"ignored": True},
    },
    {"event_id": "e2", "ts": 1.7e9, "user": "u1", "item": "i1", "type": "impression", "rec_id": "r-1"},
]
INVALID = [
    ({"ts": 1.7e9, "user": "u1", "item": "i1"}, "missing_field"),
    ({"event_id": "e", "ts": "now", "user": "u1", "item": "i1"}, "wrong_type"),
    ({"event_id": "e", "ts": 1e13, "user": "u1", "item": "i1"}, "ts_out_of_range"),
    ({"event_id": "e", "ts": 1.7e9, "user": "", "item": "i1"}, "bad_id"),
    ({"event_id": "e", "ts": 1.7e9, "user": "u", "item": ["i1"]}, "wrong_type"),
    ({"event_id": "e", "ts": 1.7e9, "user": "u", "item": "i", "type": "teleport"}, "unknown_type"),
    ({"event_id": "e", "ts": 1.7e9, "user": "u", "item": "i", "context": [1]}, "wrong_type"),
    ({"event_id": "e", "ts": 1.7e9, "user": "u", "item": "i", "context": {"d": {"x": 1}}}, "wrong_type"),
    ({"event_id": "e", "ts": 1.7e9, "user": "u", "item": "i", "value": 1e300}, "out_of_range"),
]


@pytest.mark.parametrize("obj", VALID)
def test_valid_events_pass_parser_and_schema(obj):
    jsonschema.validate(obj, CLICK_SCHEMA)
    ev = parse_click(json.dumps(obj).encode())
    assert ev.user == str(obj["user"]) and ev.item == str(obj["item"])
    jsonschema.validate(ev.to_dict(), CLICK_SCHEMA)


@pytest.mark.parametrize("obj,reason", INVALID)
def test_invalid_events_fail_parser_and_schema_with_reason(obj, reason):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, CLICK_SCHEMA)
    with pytest.raises(InvalidEvent) as err:
        parse_click(json.dumps(obj).encode())
    assert err.value.reason.startswith(reason)


@pytest.mark.parametrize("raw", invalid_payloads())
def test_generated_invalid_payloads_are_rejected(raw):
    with pytest.raises(InvalidEvent) as err:
        parse_click(raw)
    assert err.value.reason


def test_nan_deep_nesting_and_huge_payload():
    for raw, reason in [
        (b'{"event_id":"e","ts":NaN,"user":"u","item":"i"}', "non_finite_number"),
        (b'{"event_id":"e","ts":Infinity,"user":"u","item":"i"}', "non_finite_number"),
        (b"[" * 100_000 + b"]" * 100_000, "payload_too_large"),
        (b"[" * 30_000 + b"]" * 30_000, "too_deep"),
        (b"\xff\xfe", "bad_encoding"),
        (None, "empty_payload"),
    ]:
        with pytest.raises(InvalidEvent) as err:
            parse_click(raw)
        assert err.value.reason.startswith(reason), (raw[:20] if raw else raw, err.value.reason)


def test_generator_events_follow_the_schema():
    gen = ClickGenerator(n_users=20, n_items=50, seed=3)
    for obj in gen.events(200):
        jsonschema.validate(obj, CLICK_SCHEMA)
        assert isinstance(parse_click(json.dumps(obj)), ClickEvent)


def test_recommendation_message_follows_schema_and_rec_id_is_deterministic():
    ev = parse_click(json.dumps(VALID[0]))
    msg = recommendation_message(ev, [("i2", 1.5, 0.9), ("i3", 1.0, 0.05)], "egreedy", "v0001+3", 2.5, arm="a")
    jsonschema.validate(msg, REC_SCHEMA)
    assert msg["rec_id"] == rec_id_for("e1") != rec_id_for("e2")
    assert stable_seed("e1") == stable_seed("e1") != stable_seed("e2")


def test_item_metadata():
    meta = parse_item_metadata(b'{"item": "i1", "attributes": {"genres": ["a", "b"], "price": 3}}')
    assert meta.attributes == {"genres": ("a", "b"), "price": 3.0}
    with pytest.raises(InvalidEvent):
        parse_item_metadata(b'{"attributes": {}}')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["event_id", "ts", "user", "item", "type", "value", "context", "item_attributes", "rec_id", "other"]
        ),
        json_values,
    )
)
def test_parser_never_fails_other_than_invalid_event(obj):
    raw = json.dumps(obj, allow_nan=True).encode()
    try:
        ev = parse_click(raw)
    except InvalidEvent as exc:
        assert exc.reason
        return
    assert math.isfinite(ev.ts) and ev.user and ev.item
    jsonschema.validate(ev.to_dict(), CLICK_SCHEMA)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parser_survives_arbitrary_bytes(raw):
    try:
        parse_click(raw)
    except InvalidEvent as exc:
        assert exc.reason
