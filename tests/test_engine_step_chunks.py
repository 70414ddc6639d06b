"""The flow's engine step cuts long runs of clicks into chunks whose jitted part runs in the
engine thread while the chunk before is answered: same model, same messages, same order."""

from __future__ import annotations

import json

import numpy as np
import orjson
from bytewax.connectors.kafka import KafkaSourceMessage

from streamrec.contract.config import RunConfig
from streamrec.flows import engine_step
from streamrec.flows.engine_step import EngineLogic, chunk_size
from streamrec.shell.traffic import ClickGenerator


def _messages(n: int) -> list[KafkaSourceMessage]:
    gen = ClickGenerator(n_users=40, n_items=120, seed=3, prefix="c")
    events = []
    for t in range(n):
        ev = gen.next_event()
        if t % 9 == 4:  # a click on a recommendation shown earlier: a reward
            ev["rec_id"] = f"unknown-{t}"
        events.append(ev)
    return [
        KafkaSourceMessage(
            None, json.dumps(ev).encode(), "clicks", offset=i, partition=0, timestamp=(1, 1_700_000_000_000)
        )
        for i, ev in enumerate(events)
    ]


def _run(tmp_path, name: str, batches: list[list[KafkaSourceMessage]]):
    logic = EngineLogic(RunConfig(state_dir=str(tmp_path / name), recovery=False), None)
    out = []
    for batch in batches:
        emitted, _ = logic.on_batch(batch)
        out.extend(emitted)
    return logic, out


def _comparable(messages) -> list[tuple]:
    """Topic, key and value of each message, the measured latency left out."""
    rows = []
    for m in messages:
        value = orjson.loads(m.value)
        value.pop("latency_ms", None)
        rows.append((m.topic, m.key, value))
    return rows


def test_chunk_sizes():
    assert [chunk_size(n) for n in (1, 250, 251, 1000, 2000)] == [250, 250, 250, 250, 500]


def test_chunked_runs_equal_one_chunk(tmp_path, monkeypatch):
    msgs = _messages(1600)
    batches = [msgs[:1000], msgs[1000:1010], msgs[1010:1600]]
    threaded = []
    real = engine_step._run_started
    monkeypatch.setattr(engine_step, "_run_started", lambda *a: (threaded.append(1), real(*a)))
    chunked, out_chunked = _run(tmp_path, "chunked", batches)
    assert len(threaded) == 4 + 0 + 3  # the 10-event batch ran inline
    monkeypatch.setattr(engine_step, "MIN_CHUNK", 10**9)
    whole, out_whole = _run(tmp_path, "whole", batches)
    assert len(threaded) == 7
    recs = [m for m in out_chunked if m.topic == chunked.cfg.out_topic]
    assert [orjson.loads(m.value)["event_id"] for m in recs] == [orjson.loads(m.value)["event_id"] for m in msgs]
    assert _comparable(out_chunked) == _comparable(out_whole)
    a, b = chunked.model.export_state(), whole.model.export_state()
    for name, arr in a.arrays.items():
        np.testing.assert_array_equal(arr, b.arrays[name], err_msg=name)
