"""Reward join in the running flow: clicks carrying ``rec_id`` produce reward records.

Real broker, real dataflow process. Round 1 gets recommendations; round 2
answers some of them (a shown item, with the ``rec_id``), sends one duplicate,
and one click on an item that was not shown; event time then moves past the
reward window so unanswered decisions close with reward 0.
"""

from __future__ import annotations

import pytest
from kafka_helpers import TopicReader, events_payloads, produce, start_flow, stop_flow, unique_config

from streamrec.contract.messages import rec_id_for
from streamrec.shell.traffic import ClickGenerator

pytestmark = pytest.mark.kafka


def test_clicks_with_rec_id_produce_reward_records(broker, tmp_path):
    cfg = unique_config(
        broker.bootstrap, tmp_path / "state", reward_window_s=60.0, ab_split="A=egreedy:0.2@0.5,B=softmax:0.3@0.5"
    )
    gen = ClickGenerator(n_users=20, n_items=60, seed=2)
    first = list(gen.events(60))
    recs, rewards = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.rewards_topic)
    produce(broker.bootstrap, cfg.in_topic, events_payloads(first))
    flow = start_flow(cfg, tmp_path / "flow.log")
    try:
        got = recs.wait_for(len(first), timeout=300)
        assert len(got) == len(first)
        assert {r["arm"] for r in got} == {"A", "B"}
        answered = got[-10:]  # recent decisions, still inside the window
        answers = []
        for pos, r in enumerate(answered):
            slot = pos % 3
            answers.append(
                gen.next_event(user=int(r["user"][1:]), item=int(r["items"][slot]["item"][1:]), rec_id=r["rec_id"])
            )
        duplicate = dict(answers[0])
        not_shown = gen.next_event(user=int(answered[1]["user"][1:]), rec_id=answered[1]["rec_id"])
        shown = {i["item"] for i in answered[1]["items"]}
        while not_shown["item"] in shown:
            not_shown = gen.next_event(user=int(answered[1]["user"][1:]), rec_id=answered[1]["rec_id"])
        # an event far later in event time closes every open decision
        closer = gen.next_event()
        closer["ts"] = closer["ts"] + 10 * cfg.reward_window_s
        produce(broker.bootstrap, cfg.in_topic, events_payloads(answers + [duplicate, not_shown, closer]))
        assert len(recs.wait_for(len(first) + len(answers) + 3, timeout=120)) == len(first) + len(answers) + 3
        rewards.poll(3.0)  # reward records of the last batch go out with its recommendations
    finally:
        stop_flow(flow)
        recs.close()
        rewards.close()
    records = rewards.records
    clicked = [r for r in records if r["reward"] == 1.0]
    by_rec = {r["rec_id"]: r for r in clicked}
    # every answer with its rec_id is joined once, at the slot it was shown in; duplicates are not
    assert set(by_rec) >= {r["rec_id"] for r in answered}
    for pos, r in enumerate(answered):
        rec = by_rec[r["rec_id"]]
        assert rec["position"] == pos % 3
        assert rec["clicked_item"] == r["items"][pos % 3]["item"]
        assert rec["slate"]["items"] == [i["item"] for i in r["items"]]
        assert rec["slate"]["propensities"] == pytest.approx([i["propensity"] for i in r["items"]], abs=1e-6)
        assert rec["arm"] == r["arm"] and rec["policy"] == r["policy"]
        assert rec["reward_latency_s"] >= 0
    assert sum(1 for r in clicked if r["rec_id"] == answered[0]["rec_id"]) == 1
    # decisions nobody answered close with reward 0 once event time passes the window
    zero = {r["rec_id"] for r in records if r["reward"] == 0.0}
    unanswered = {r["rec_id"] for r in got} - set(by_rec) - {rec_id_for(closer["event_id"])}
    assert unanswered and unanswered <= zero


def test_engine_reward_log_feeds_ope_and_ab_report(broker, tmp_path, capsys):
    """The rewards topic, dumped as JSONL, is what ``streamrec ope`` and ``ab-report`` read."""
    import json

    from streamrec.shell.cli import main

    cfg = unique_config(
        broker.bootstrap, tmp_path / "state", reward_window_s=5.0, ab_split="A=egreedy:0.3@0.5,B=greedy@0.5"
    )
    gen = ClickGenerator(n_users=30, n_items=40, seed=8)
    events = []
    for e in gen.events(400):  # event time spreads over ~20 s, so windows close as it goes
        events.append(e)
    recs, rewards = TopicReader(broker.bootstrap, cfg.out_topic), TopicReader(broker.bootstrap, cfg.rewards_topic)
    produce(broker.bootstrap, cfg.in_topic, events_payloads(events))
    flow = start_flow(cfg, tmp_path / "flow.log")
    try:
        assert len(recs.wait_for(len(events), timeout=300)) == len(events)
        rewards.poll(3.0)
    finally:
        stop_flow(flow)
        recs.close()
        rewards.close()
    log = tmp_path / "rewards.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rewards.records))
    assert {r["arm"] for r in rewards.records} == {"A", "B"}
    capsys.readouterr()
    assert main(["ab-report", str(log), "--control", "B", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(json.dumps(report).split('"')) >= {"A", "B"}
    assert main(["ope", str(log), "--format", "streamrec", "--policy", "greedy", "--json", "--n-bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    est = json.loads(out)
    assert "ips" in out.lower() and est
