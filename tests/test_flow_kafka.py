"""End to end on real parts: embedded broker -> Bytewax dataflow process -> topics.

No mocks: the broker is the Tansu binary, the flow is ``streamrec run`` (or
``python -m bytewax.run streamrec.flows.recommend``) in its own process, the model lives
in RocksDB under a temporary state directory.
"""

from __future__ import annotations

import json

import pytest
from kafka_helpers import TopicReader, events_payloads, produce, start_flow, stop_flow, unique_config

from streamrec.contract.messages import rec_id_for
from streamrec.shell.traffic import ClickGenerator, invalid_payloads

pytestmark = pytest.mark.kafka


def _version_count(rec: dict) -> int:
    return int(rec["model_version"].rsplit("+", 1)[1])


def test_one_recommendation_per_valid_event_and_one_dead_letter_per_invalid(broker, tmp_path):
    cfg = unique_config(broker.bootstrap, tmp_path / "state")
    gen = ClickGenerator(n_users=40, n_items=120, seed=11)
    valid = list(gen.events(400))
    bad = invalid_payloads()
    payloads = events_payloads(valid[:200]) + bad + events_payloads(valid[200:])
    produce(broker.bootstrap, cfg.in_topic, payloads)

    recs, dlq = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.dlq_topic)
    flow = start_flow(cfg, tmp_path / "flow.log")
    try:
        got = recs.wait_for(len(valid), timeout=300)
        dead = dlq.wait_for(len(bad), timeout=10)
    finally:
        stop_flow(flow)
        recs.close()
        dlq.close()
    log = (tmp_path / "flow.log").read_text(errors="replace")
    assert len(got) == len(valid), log[-3000:]
    assert sorted(r["rec_id"] for r in got) == sorted(rec_id_for(e["event_id"]) for e in valid)
    assert len(dead) == len(bad)
    assert all(d["reason"] and "raw" in d for d in dead)
    assert {d["raw_bytes"] for d in dead} == {len(b) for b in bad}
    # a full list of k distinct items whenever the catalog seen so far allows it
    catalog: set[str] = set()
    had: dict[str, set[str]] = {}
    rec_of = {r["event_id"]: r for r in got}
    for e in valid:
        catalog.add(e["item"])
        had.setdefault(e["user"], set()).add(e["item"])
        r = rec_of[e["event_id"]]
        items = [i["item"] for i in r["items"]]
        assert len(items) == min(cfg.k, len(catalog - had[e["user"]])), (e, r)
        assert len(set(items)) == len(items) and not set(items) & had[e["user"]]
        assert all(0.0 < i["propensity"] <= 1.0 for i in r["items"])
        assert r["policy"] and r["model_version"]
    by_event = {e["event_id"]: e for e in valid}
    assert all(by_event[r["event_id"]]["user"] == r["user"] for r in got)


def test_restart_on_same_state_continues_the_model(broker, tmp_path):
    cfg = unique_config(broker.bootstrap, tmp_path / "state")
    gen = ClickGenerator(n_users=30, n_items=100, seed=5)
    first, second = list(gen.events(150)), list(gen.events(100))
    recs = TopicReader(broker.bootstrap, cfg.out_topic)
    produce(broker.bootstrap, cfg.in_topic, events_payloads(first))
    flow = start_flow(cfg, tmp_path / "flow1.log")
    try:
        got = recs.wait_for(len(first), timeout=300)
    finally:
        stop_flow(flow)
    assert len(got) == len(first)
    learned_first = max(_version_count(r) for r in got)
    assert learned_first == len(first)

    produce(broker.bootstrap, cfg.in_topic, events_payloads(second))
    # second run through Bytewax's own runner, configured from STREAMREC_* variables
    flow = start_flow(cfg, tmp_path / "flow2.log", via_bytewax_run=True)
    try:
        got = recs.wait_for(len(first) + len(second), timeout=300)
    finally:
        stop_flow(flow)
        recs.close()
    log = (tmp_path / "flow2.log").read_text(errors="replace")
    new = [r for r in got if r["event_id"] in {e["event_id"] for e in second}]
    assert len({r["rec_id"] for r in new}) == len(second), log[-3000:]
    # the counter in model_version continues from the first run instead of restarting at 1
    assert min(_version_count(r) for r in new) == len(first) + 1
    assert max(_version_count(r) for r in new) == len(first) + len(second)
    json.dumps(got)  # all messages are plain JSON


def test_item_metadata_topic_registers_items_that_are_served_before_any_click(broker, tmp_path):
    cfg = unique_config(broker.bootstrap, tmp_path / "state", items_topic=f"items-{tmp_path.name[-8:]}")
    recs, dlq = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.dlq_topic)
    meta = [{"item": "fresh", "attributes": {"genres": ["kids"]}}, {"attributes": {"no": "item"}}]
    produce(broker.bootstrap, cfg.items_topic, [json.dumps(m).encode() for m in meta])
    flow = start_flow(cfg, tmp_path / "flow.log")
    try:
        assert len(dlq.wait_for(1, timeout=300)) == 1  # the metadata record without an item
        clicks = [
            {
                "event_id": f"m{i}",
                "ts": 1.7e9 + i,
                "user": "u1",
                "item": f"old{i}",
                "item_attributes": {"genres": ["kids"]},
            }
            for i in range(5)
        ]
        produce(broker.bootstrap, cfg.in_topic, events_payloads(clicks))
        got = recs.wait_for(len(clicks), timeout=120)
    finally:
        stop_flow(flow)
        recs.close()
        dlq.close()
    assert len(got) == len(clicks)  # metadata records get no recommendation
    assert dlq.records[0]["reason"].startswith("missing_field")
    # u1 has had every clicked item: what is left to serve is the never-clicked item from the topic
    assert [i["item"] for i in got[-1]["items"]] == ["fresh"]
