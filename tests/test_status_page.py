"""The status endpoint: health probes, /status.json and the HTML page rendered in a real browser.

The page test runs Debian's headless Chromium (installed by ``.ci/run``); it is skipped
where no Chromium is installed. Metrics are fed through a private registry so the numbers
on the page can be checked against that registry's ``/metrics`` exposition.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from streamrec.flows.status_history import StatusHistory, bucket_quantile
from streamrec.flows.status_server import StatusServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture()
def server():
    reg = CollectorRegistry()
    m = {
        "events": Counter("streamrec_events", "e", ["kind"], registry=reg),
        "dead": Counter("streamrec_dead_letters", "d", ["reason"], registry=reg),
        "latency": Histogram(
            "streamrec_event_latency_seconds", "l", registry=reg, buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 1.0)
        ),
        "hit": Gauge("streamrec_online_hit_rate", "h", registry=reg),
        "drift": Gauge("streamrec_drift_detected", "d", registry=reg),
        "version": Info("streamrec_model", "v", registry=reg),
    }
    history = StatusHistory(reg, interval_s=3600.0)  # samples only when the test says
    srv = StatusServer(0, registry=reg, history=history).start()
    yield srv, m, history
    srv.stop()


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_bucket_quantile_interpolates_inside_the_bucket():
    buckets = [(0.01, 0.0), (0.02, 50.0), (0.04, 100.0), (float("inf"), 100.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.02)
    assert bucket_quantile(0.75, buckets) == pytest.approx(0.03)
    assert bucket_quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None


def test_health_probes_and_metrics(server):
    srv, m, history = server
    assert _get(srv.port, "/healthz") == (200, b"ok\n")
    assert _get(srv.port, "/readyz")[0] == 503
    history.ready = True
    assert _get(srv.port, "/readyz")[0] == 200
    m["events"].labels("click").inc(7)
    code, body = _get(srv.port, "/metrics")
    assert code == 200 and b'streamrec_events_total{kind="click"} 7.0' in body
    assert _get(srv.port, "/nope")[0] == 404


def test_busy_port_is_named():
    first = StatusServer(0)
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{first.port}"):
            StatusServer(first.port)
    finally:
        first.httpd.server_close()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_page_in_a_real_browser_shows_the_metrics(server, tmp_path):
    srv, m, history = server
    history.ready = True
    m["events"].labels("click").inc(1234)
    m["dead"].labels("invalid_json").inc(3)
    for x in (0.002, 0.003, 0.004, 0.02, 0.5):
        m["latency"].observe(x)
    m["hit"].set(0.3125)
    m["version"].info({"version": "v0002+1234"})
    history.sample()
    history.add_recommendations(
        [{"user": "u42", "items": [{"item": "i9", "score": 1.5, "propensity": 0.95}], "model_version": "v0002+1234"}]
    )
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            f"http://127.0.0.1:{srv.port}/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout

    def shown(element_id: str) -> str:
        found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
        assert found, f"#{element_id} missing from the rendered page"
        return found.group(1)

    _, metrics_text = _get(srv.port, "/metrics")
    total = re.search(rb'streamrec_events_total\{kind="click"\} ([0-9.e+]+)', metrics_text)
    assert total and shown("events-total") == str(round(float(total.group(1))))
    assert shown("hit-rate") == "0.3125"
    assert shown("model-version") == "v0002+1234"
    assert shown("ready") == "serving"
    assert float(shown("latency-p50")) == pytest.approx(history.snapshot()["points"][-1]["latency_p50_ms"], abs=0.05)
    assert "invalid_json" in dom and "u42" in dom and "p=0.950" in dom


def test_grafana_dashboard_names_only_metrics_the_flow_exports():
    import json
    from importlib import resources

    from prometheus_client import REGISTRY

    import streamrec.flows.metrics  # noqa: F401  (registers the flow's metrics)

    dash = json.loads(resources.files("streamrec.flows").joinpath("grafana_dashboard.json").read_text())
    exported = {s.name for fam in REGISTRY.collect() for s in fam.samples} | {fam.name for fam in REGISTRY.collect()}
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"streamrec_[a-z_]+", e)}
    assert used, "the dashboard queries nothing"
    for name in used:
        base = re.sub(r"_(bucket|total)$", "", name)
        assert name in exported or base in exported, f"dashboard queries unknown metric {name}"
