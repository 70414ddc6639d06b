"""Start-up checks against a real broker (and an address where none listens); progress bars."""

from __future__ import annotations

import io
import logging

import pytest

from streamrec.shell.broker import ensure_topics, free_port
from streamrec.shell.preflight import PreflightError, check_topics, kafka_logger, wait_for_brokers
from streamrec.shell.progress import Progress


def test_unreachable_broker_is_one_error_naming_the_servers_after_the_timeout(caplog):
    port = free_port()
    said: list[str] = []
    caplog.set_level(logging.WARNING, logger=kafka_logger().name)
    with pytest.raises(PreflightError) as info:
        wait_for_brokers(f"127.0.0.1:{port}", timeout_s=2.0, retry_s=0.5, say=said.append)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "\n" not in message
    assert 1 <= len(said) <= 5  # one line per retry interval at most


@pytest.mark.kafka
def test_reachable_broker_and_missing_topics(broker):
    ensure_topics(broker.bootstrap, ["pf-present"])
    md = wait_for_brokers(broker.bootstrap, timeout_s=20)
    assert check_topics(md, ["pf-present"], broker.bootstrap) == []
    with pytest.raises(PreflightError, match="pf-absent"):
        check_topics(md, ["pf-present", "pf-absent"], broker.bootstrap)
    assert check_topics(md, ["pf-absent"], broker.bootstrap, create=True) == ["pf-absent"]


def test_progress_is_silent_when_not_a_terminal():
    out = io.StringIO()  # isatty() is False
    with Progress("replay", total=10, stream=out) as bar:
        bar.update(10)
    assert out.getvalue() == ""


def test_progress_line_shows_count_rate_and_eta():
    bar = Progress("ope", total=200, unit="rows", stream=io.StringIO(), enabled=True)
    bar.done = 50
    line = bar.line(now=bar.t0 + 1.0)
    assert "50/200 rows" in line and "25%" in line and "50/s" in line and "ETA 0:03" in line
    open_ended = Progress("produce", stream=io.StringIO(), enabled=True)
    open_ended.done = 10
    assert "elapsed 0:02" in open_ended.line(now=open_ended.t0 + 2.0)


def test_replay_reports_progress_per_model_chunk():
    from streamrec.contract.events import ClickEvent
    from streamrec.replay.baselines import Popularity, Transitions
    from streamrec.replay.prequential import run_prequential

    events = [ClickEvent(str(n), 1.7e9 + n, f"u{n % 3}", f"i{n % 5}") for n in range(25)]
    done: list[int] = []
    run_prequential(events, [Popularity(), Transitions()], chunk=10, progress=done.append)
    assert done == [10, 10, 10, 10, 5, 5]
