"""Recommendations on demand: ``"type": "request"`` events are answered and never learned."""

from __future__ import annotations

import json

import pytest
from kafka_helpers import TopicReader, events_payloads, load_model_state, produce, start_flow, unique_config

from streamrec.contract.events import ClickEvent, InvalidEvent, RecommendationRequest, parse_event
from streamrec.shell.traffic import ClickGenerator


def test_parse_event_tells_requests_from_clicks():
    req = parse_event(b'{"type": "request", "user": "u1", "context": {"device": "tv"}, "request_id": "r9"}')
    assert req == RecommendationRequest(user="u1", context={"device": "tv"}, request_id="r9")
    click = parse_event(b'{"event_id": "e1", "ts": 1.7e9, "user": "u1", "item": "i1"}')
    assert isinstance(click, ClickEvent)
    with pytest.raises(InvalidEvent, match="user"):
        parse_event(b'{"type": "request", "context": {}}')
    with pytest.raises(InvalidEvent, match="ts_out_of_range"):
        parse_event(b'{"type": "request", "user": "u1", "ts": 5}')


@pytest.mark.kafka
def test_requests_are_answered_end_to_end_and_not_learned(broker, tmp_path):
    cfg = unique_config(broker.bootstrap, tmp_path / "state")
    clicks = list(ClickGenerator(n_users=20, n_items=60, seed=5).events(200))
    requests = [
        {"type": "request", "user": "u3", "context": {"segment": "parent"}, "request_id": "req-1"},
        {"type": "request", "user": "someone-new", "request_id": "req-2"},
        {"type": "request", "user": "u4"},
    ]
    produce(broker.bootstrap, cfg.in_topic, events_payloads(clicks) + [json.dumps(r).encode() for r in requests])
    reader = TopicReader(broker.bootstrap, cfg.out_topic)
    proc = start_flow(cfg, tmp_path / "run.log")
    try:
        recs = reader.wait_for(203, timeout=240)
    finally:
        proc.terminate()
        proc.wait(60)
        reader.close()
    assert len(recs) == 203, (tmp_path / "run.log").read_text()[-3000:]
    answers = {r.get("request_id"): r for r in recs[200:]}
    assert set(answers) == {"req-1", "req-2", None}
    for r in answers.values():
        assert 1 <= len(r["items"]) <= cfg.k and all(0.0 < it["propensity"] <= 1.0 for it in r["items"])
    seen_by_u3 = {c["item"] for c in clicks if c["user"] == "u3"}
    assert not seen_by_u3 & {it["item"] for it in answers["req-1"]["items"]}, "a request excludes seen items"
    assert answers[None]["event_id"].startswith("request@"), "no ids: the Kafka position names it"
    assert load_model_state(cfg.state_dir).meta["n_events"] == 200, "requests must not be learned"
