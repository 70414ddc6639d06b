"""Ctrl-C and SIGTERM on ``streamrec run``: the batch in flight finishes, the epoch commits,
one line says where it stopped, exit 0; the next run resumes there (nothing learned twice)."""

from __future__ import annotations

import re
import signal

import pytest
from kafka_helpers import (
    TopicReader,
    events_payloads,
    load_model_state,
    produce,
    start_flow,
    unique_config,
)

from streamrec.shell.traffic import ClickGenerator

pytestmark = pytest.mark.kafka
STOP_LINE = re.compile(
    r"^stopped after ([\d,]+) events; model (v\d+)\+(\d+); resume with the same --state", re.MULTILINE
)


def _stop(proc, sig) -> int:
    proc.send_signal(sig)
    return proc.wait(60)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_and_the_next_run_resumes(broker, tmp_path, sig):
    cfg = unique_config(broker.bootstrap, tmp_path / "state", snapshot_interval_s=1.0)
    gen = ClickGenerator(n_users=30, n_items=80, seed=3)
    produce(broker.bootstrap, cfg.in_topic, events_payloads(list(gen.events(300))))
    reader = TopicReader(broker.bootstrap, cfg.out_topic)
    log = tmp_path / "run.log"
    proc = start_flow(cfg, log)
    try:
        assert len(reader.wait_for(300, timeout=240)) >= 300, log.read_text()[-3000:]
        assert _stop(proc, sig) == 0, log.read_text()[-3000:]
        text = log.read_text()
        stopped = STOP_LINE.search(text)
        assert stopped, text[-3000:]
        assert stopped.group(3) == "300"
        assert "Traceback" not in text and "panicked" not in text, text[-3000:]

        produce(broker.bootstrap, cfg.in_topic, events_payloads(list(gen.events(100))))
        proc = start_flow(cfg, log)
        assert len(reader.wait_for(400, timeout=240)) >= 400, log.read_text()[-3000:]
        assert _stop(proc, sig) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.close()
    versions = STOP_LINE.findall(log.read_text())
    assert [v[2] for v in versions] == ["300", "400"], versions  # resumed: the 300 were not learned again
    assert load_model_state(cfg.state_dir).meta["n_events"] == 400
    assert len({r["rec_id"] for r in reader.records}) == 400
