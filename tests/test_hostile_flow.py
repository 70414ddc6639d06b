"""Hostile input at the running flow, and the parse step's never-raise contract.

Flow level (real broker, real ``streamrec run``): one run fed with valid clicks interleaved
with payloads from :func:`hostile_payloads` -- a seeded generator that knows, by
construction, whether each payload is valid and, if not, the reason code the contract gives
it. Proved: every invalid payload ends in the dead-letter topic (matched by its Kafka offset,
with the expected non-empty reason and its byte size), every valid one gets exactly one
recommendation, the flow is still running at the end, and the stored model is finite.

Message size: librdkafka's producer refuses records above ``message.max.bytes`` (default
1,000,000) *client side* with ``MSG_SIZE_TOO_LARGE``; Tansu itself accepted 2 MB records in a
check. So the largest hostile payloads here are ~990 KB (the flow rejects anything above
``MAX_PAYLOAD_BYTES`` = 64 KB as ``payload_too_large`` and dead-letters a 4 KB excerpt).

Parse level (hypothesis, no broker): :func:`flows.parse.parse_message` never raises on any
bytes or any JSON value, dead letters always carry a reason, and whatever it accepts can be
serialised again (the flow writes ids and context into its output messages).

Lone UTF-16 surrogates inside ``context`` / ``item_attributes`` strings or keys (JSON
``"\\ud800"``) cannot be written back out as UTF-8; they are dead-lettered as ``bad_encoding``
(this once crashed the flow in its ``to_kafka`` step: the regression tests below).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka_helpers import (
    TopicReader,
    load_model_state,
    start_flow,
    stop_flow,
    unique_config,
    wait_for_distinct,
    wait_until,
)

from streamrec.contract.events import MAX_PAYLOAD_BYTES, TS_MAX, TS_MIN
from streamrec.contract.messages import dumps, rec_id_for
from streamrec.flows.parse import Arrival, DeadLetter, parse_message
from streamrec.shell.traffic import ClickGenerator

SEED = 1337


@dataclass(frozen=True)
class Payload:
    raw: bytes | None
    event_id: str | None  # set for valid clicks (their recommendation's event_id)
    reason: str = ""  # expected dead-letter reason code for invalid ones


@dataclass
class FakeMessage:
    """The attributes of ``KafkaSourceMessage`` that the parse step reads."""

    value: bytes | None
    topic: str = "clicks"
    partition: int = 0
    offset: int = 0
    timestamp: tuple = (1, 1_700_000_000_000)


def _j(obj) -> bytes:
    return json.dumps(obj).encode()


def hostile_payloads(rng: random.Random, n: int) -> list[Payload]:
    """``n`` hostile payloads (valid or not, known by construction), seeded."""
    odd = ["ü", "日本語", "😀", "Ω≈ç√", "a b", "ｆｕｌｌ", "e\u0301"]  # all str.isprintable()
    out: list[Payload] = []

    def base(k: int) -> dict:
        return {
            "event_id": f"h{k}",
            "ts": 1.7e9 + rng.uniform(0, 1e5),
            "user": f"u{rng.randrange(50)}",
            "item": f"i{rng.randrange(200)}",
            "type": "click",
        }

    def valid(k: int) -> Payload:
        ev = base(k)
        kind = rng.randrange(7)
        if kind == 0:  # never-seen ids, odd but printable unicode
            ev["user"] = f"new-{rng.choice(odd)}-{k}"
            ev["item"] = f"{rng.choice(odd)}{rng.randrange(10**9)}"
        elif kind == 1:  # event time at the edges of the accepted range
            ev["ts"] = rng.choice([TS_MIN, TS_MAX, TS_MIN + 1.5, TS_MAX - 0.5])
        elif kind == 2:  # unknown fields, deep nesting inside them (dropped)
            deep: object = "leaf"
            for _ in range(rng.randrange(10, 200)):
                deep = {"d": [deep]}
            ev["extra"] = deep
        elif kind == 3:  # big but under the payload limit
            ev["padding"] = "x" * rng.randrange(1000, MAX_PAYLOAD_BYTES - 500)
        elif kind == 4:  # integer ids, numeric and boolean context, value
            ev.update(
                user=rng.randrange(10**6),
                item=rng.randrange(10**6),
                value=rng.uniform(-1e9, 1e9),
                context={"n": rng.uniform(-1e9, 1e9), "b": True, "none": None},
            )
        elif kind == 5:
            ev["type"] = rng.choice(["view", "purchase", "impression", "skip", "rating"])
        else:
            ev["item_attributes"] = {"genres": [rng.choice(odd) for _ in range(rng.randrange(64))]}
        return Payload(_j(ev), str(ev["event_id"]))

    def invalid(k: int) -> Payload:
        ev = base(k)
        kind = rng.randrange(17)
        if kind == 0:
            raw = _j(ev)
            return Payload(raw[: rng.randrange(1, len(raw) - 1)], None, "malformed_json")
        if kind == 1:
            return Payload(_j(rng.choice([[1, 2], "str", 3.5, None, True, []])), None, "not_an_object")
        if kind == 2:
            del ev[rng.choice(["event_id", "user", "item", "ts"])]
            return Payload(_j(ev), None, "missing_field")
        if kind == 3:
            field, bad = rng.choice(
                [
                    ("ts", "yesterday"),
                    ("ts", [1.7e9]),
                    ("user", [1]),
                    ("item", True),
                    ("event_id", {"a": 1}),
                    ("user", 1.5),
                    ("context", [1, 2]),
                    ("type", 3),
                    ("value", "1"),
                    ("context", {"k": {"nested": 1}}),
                ]
            )
            ev[field] = bad
            return Payload(_j(ev), None, "wrong_type")
        if kind == 4:
            lit = rng.choice(["NaN", "Infinity", "-Infinity"])
            field = rng.choice(["ts", "value"])
            raw = _j({**ev, field: 12345}).replace(b"12345", lit.encode())
            return Payload(raw, None, "non_finite_number")
        if kind == 5:
            ev["ts"] = rng.choice([0, -1.0, TS_MIN - 1, TS_MAX + 1, 9.9e12, 1.7e18])
            return Payload(_j(ev), None, "ts_out_of_range")
        if kind == 6:  # 1e400 parses to inf
            return Payload(_j(ev).replace(_j(ev["ts"]), b"1e400"), None, "non_finite_number")
        if kind == 7:
            ev[rng.choice(["user", "item", "event_id"])] = "x" * rng.randrange(257, 5000)
            return Payload(_j(ev), None, "bad_id")
        if kind == 8:
            ev[rng.choice(["user", "item"])] = rng.choice(["a\x00b", "tab\there", "\u2028", "\ud800", "zw\u200b"])
            return Payload(_j(ev), None, "bad_id")
        if kind == 9:  # huge payloads, up to ~1 MB
            ev["padding"] = "y" * rng.randrange(MAX_PAYLOAD_BYTES, 990_000)
            return Payload(_j(ev), None, "payload_too_large")
        if kind == 10:
            return Payload(
                rng.choice([b"\xff\xfe{}", "\udcff".encode("utf-8", "surrogatepass"), _j(ev)[:-1] + b"\xc3}"]),
                None,
                "bad_encoding",
            )
        if kind == 11:
            depth = rng.randrange(5_000, 20_000)
            return Payload(b"[" * depth + b"]" * depth, None, "too_deep")
        if kind == 12:
            ev["type"] = rng.choice(["hack", "", "CLICK", "x" * 300])
            return Payload(_j(ev), None, "unknown_type")
        if kind == 13:
            ev["context"] = {f"k{i}": i for i in range(65 + rng.randrange(100))}
            return Payload(_j(ev), None, "too_many_entries")
        if kind == 14:
            ev["context"] = {"blob": "z" * rng.randrange(257, 10_000)}
            return Payload(_j(ev), None, "value_too_long")
        if kind == 15:
            ev["value"] = rng.choice([1e10, -1e300])
            return Payload(_j(ev), None, "out_of_range")
        return Payload(rng.choice([b"", b" ", b"null"]), None, "")  # code checked loosely

    for k in range(n):
        out.append(valid(k) if rng.random() < 0.35 else invalid(k))
    out.append(Payload(None, None, "empty_payload"))  # a tombstone: record without a value
    return out


def _reason_code(reason: str) -> str:
    return reason.split(":", 1)[0]


# ----------------------------------------------------------------------------------- flow level
@pytest.mark.kafka
@pytest.mark.slow
def test_running_flow_dead_letters_hostile_input_and_serves_the_rest(broker, tmp_path):
    from confluent_kafka import Producer

    rng = random.Random(SEED)
    normal = [Payload(_j(e), e["event_id"]) for e in ClickGenerator(n_users=60, n_items=200, seed=3).events(300)]
    hostile = hostile_payloads(rng, 200)
    stream = normal[:100] + hostile[:100] + normal[100:200] + hostile[100:] + normal[200:]
    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=0.5)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for p in stream:  # offsets 0..len-1 in this order (fresh single-partition topic)
        producer.produce(cfg.in_topic, value=p.raw)
        producer.poll(0)
    assert producer.flush(60) == 0

    valid_ids = [p.event_id for p in stream if p.event_id is not None]
    invalid = {off: p for off, p in enumerate(stream) if p.event_id is None}
    recs, dlq = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.dlq_topic)
    log = tmp_path / "flow.log"
    flow = start_flow(cfg, log)
    try:
        n = wait_for_distinct(recs, "rec_id", len(valid_ids), timeout=180, proc=flow)
        wait_until(lambda: dlq.poll(0.2) >= 0 and len(dlq.records) >= len(invalid), timeout=30)
        recs.poll(1.0)
        dlq.poll(0.5)
        time.sleep(2.0)  # a snapshot after the last batch: the stored model is the final one
        alive = flow.poll() is None
    finally:
        stop_flow(flow)
        recs.close()
        dlq.close()
    tail = log.read_text(errors="replace")[-3000:]
    assert alive, tail
    assert n == len(valid_ids), tail
    assert sorted(r["rec_id"] for r in recs.records) == sorted(rec_id_for(e) for e in valid_ids)

    assert len(dlq.records) == len(invalid)
    by_offset = {int(d["source"].rsplit("@", 1)[1]): d for d in dlq.records}
    assert set(by_offset) == set(invalid)
    for off, d in by_offset.items():
        want = invalid[off]
        assert d["reason"] and d["source"].startswith(f"{cfg.in_topic}/0@")
        assert d["raw_bytes"] == len(want.raw or b"")
        assert len(d["raw"]) <= 4096
        if want.reason:
            assert _reason_code(d["reason"]) == want.reason, (off, d["reason"], (want.raw or b"")[:200])

    state = load_model_state(cfg.state_dir)
    assert state is not None and state.meta["n_events"] == len(valid_ids)
    for name, arr in state.arrays.items():
        if np.issubdtype(arr.dtype, np.floating):
            assert np.isfinite(arr).all(), name


SURROGATE_CONTEXT = (
    b'{"event_id": "s1", "ts": 1700000000.0, "user": "u1", "item": "i1", "context": {"device": "\\ud800"}}'
)


@pytest.mark.kafka
def test_lone_surrogate_in_context_does_not_stop_the_flow(broker, tmp_path):
    from kafka_helpers import produce

    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=0.5)
    later = ClickGenerator(n_users=5, n_items=20, seed=1, start_ts=1_700_010_000.0).next_event()  # closes window
    produce(broker.bootstrap, cfg.in_topic, [SURROGATE_CONTEXT, _j(later)])
    recs, dlq = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.dlq_topic)
    flow = start_flow(cfg, tmp_path / "flow.log")
    try:
        wait_for_distinct(recs, "rec_id", 1, timeout=120, proc=flow)
        dlq.wait_for(1, timeout=5)
        alive = flow.poll() is None
    finally:
        stop_flow(flow)
        recs.close()
        dlq.close()
    assert alive, (tmp_path / "flow.log").read_text(errors="replace")[-2000:]
    assert [r["event_id"] for r in recs.records] == [later["event_id"]]
    assert [_reason_code(d["reason"]) for d in dlq.records] == ["bad_encoding"]


# ---------------------------------------------------------------------------------- parse level
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=300)
)
json_value = st.recursive(
    json_leaf,
    lambda c: st.one_of(st.lists(c, max_size=5), st.dictionaries(st.text(max_size=20), c, max_size=5)),
    max_leaves=30,
)
click_like = st.fixed_dictionaries(
    {
        "event_id": st.one_of(st.text(max_size=300), st.integers()),
        "user": json_value,
        "item": json_value,
        "ts": st.one_of(st.floats(), st.integers(), st.just(1.7e9), st.text(max_size=5)),
    },
    optional={
        "type": st.sampled_from(["click", "view", "skip", "nope", 3]),
        "value": json_value,
        "context": json_value,
        "item_attributes": json_value,
        "rec_id": json_value,
    },
)


def _check(result, raw) -> None:
    assert isinstance(result, (Arrival, DeadLetter))
    if isinstance(result, DeadLetter):
        assert result.reason and ":" in result.reason
        dumps(result.to_dict())  # the dead letter itself is always writable
    else:
        dumps(result.payload.to_dict())  # what is accepted can be written back out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_parse_message_never_raises_on_arbitrary_bytes(raw):
    _check(parse_message(FakeMessage(raw)), raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_value, click_like))
def test_parse_message_never_raises_on_arbitrary_json(obj):
    raw = json.dumps(obj).encode()  # NaN/Infinity literals appear when floats() draws them
    _check(parse_message(FakeMessage(raw)), raw)


def test_seeded_hostile_payloads_get_their_expected_verdict():
    for p in hostile_payloads(random.Random(SEED), 300):
        result = parse_message(FakeMessage(p.raw))
        _check(result, p.raw)
        if p.event_id is not None:
            assert isinstance(result, Arrival), (result, (p.raw or b"")[:200])
        else:
            assert isinstance(result, DeadLetter), (p.raw or b"")[:200]
            if p.reason:
                assert _reason_code(result.reason) == p.reason, (result.reason, (p.raw or b"")[:200])


@pytest.mark.parametrize(
    "raw",
    [
        SURROGATE_CONTEXT,
        b'{"event_id": "s2", "ts": 1700000000.0, "user": "u1", "item": "i1", "item_attributes": {"g": ["\\udfff"]}}',
        b'{"event_id": "s3", "ts": 1700000000.0, "user": "u1", "item": "i1", "context": {"\\ud83d": 1}}',
    ],
)
def test_lone_surrogates_in_maps_are_dead_lettered(raw):
    result = parse_message(FakeMessage(raw))
    assert isinstance(result, DeadLetter) and _reason_code(result.reason) == "bad_encoding"
