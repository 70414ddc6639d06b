"""bench/session_log.py: a deterministic session click log in the event contract."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from streamrec.contract.events import parse_click
from streamrec.replay.log_reader import read_jsonl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def session_log():
    spec = importlib.util.spec_from_file_location("session_log", ROOT / "bench" / "session_log.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["session_log"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def events(session_log):
    return session_log.generate(_shape(session_log), seed=3)


def _shape(mod):
    return mod.LogShape(n_sessions=3000, n_items=600, n_cats=12, days=20)


def test_same_seed_same_log_other_seed_other_log(session_log, events):
    again = session_log.generate(_shape(session_log), seed=3)
    other = session_log.generate(_shape(session_log), seed=4)
    assert again == events
    assert [e["item"] for e in other] != [e["item"] for e in events]


def test_every_event_is_in_the_contract_and_reads_back(session_log, events, tmp_path):
    for e in events[:500]:
        parse_click(json.dumps(e))
    path = session_log.write_jsonl(events, tmp_path / "log.jsonl.gz")
    read, summary = read_jsonl(path)
    assert summary.n_valid == len(events) and summary.n_invalid == 0
    assert [e.event_id for e in read] == [e["event_id"] for e in events]  # already in ts order


def test_sessions_are_short_and_never_repeat_an_item(events):
    by_session: dict[str, list[str]] = {}
    for e in events:
        by_session.setdefault(e["user"], []).append(e["item"])
    lengths = np.array([len(v) for v in by_session.values()])
    assert 2.5 < lengths.mean() < 6 and lengths.max() <= 20
    assert all(len(set(v)) == len(v) for v in by_session.values())


def test_consecutive_clicks_mostly_stay_in_the_category(events):
    last: dict[str, str] = {}
    same = pairs = 0
    n_cats = len({e["item_attributes"]["category"] for e in events})
    for e in events:
        cat = e["item_attributes"]["category"]
        if e["user"] in last:
            pairs += 1
            same += last[e["user"]] == cat
        last[e["user"]] = cat
    assert same / pairs > 0.6 > 3.0 / n_cats  # far above chance


def test_popularity_drifts(events):
    q = len(events) // 4
    first = {i for i, _ in Counter(e["item"] for e in events[:q]).most_common(20)}
    last = {i for i, _ in Counter(e["item"] for e in events[-q:]).most_common(20)}
    assert len(first & last) < 10
