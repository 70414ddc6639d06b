"""The flow's HTTP endpoint: Prometheus metrics, health probes and a live status page.

Routes (``streamrec run --metrics-port P [--metrics-host H]``):

- ``GET /metrics``: Prometheus exposition of the registry;
- ``GET /healthz``: 200 while the process serves;
- ``GET /readyz``: 200 once the engine has loaded its state and serves, else 503;
- ``GET /status.json``: :meth:`StatusHistory.snapshot` (the last minutes of health);
- ``GET /``: one self-contained HTML page (no downloads at view time) drawing
  ``/status.json`` as charts, with the model version, dead-letter reasons and the latest
  recommendations.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)

from streamrec.flows.status_history import StatusHistory


def status_page() -> bytes:
    """The HTML of the status page (package data beside this module)."""
    return resources.files("streamrec.flows").joinpath("status_page.html").read_bytes()


class StatusServer:
    """A daemon-thread HTTP server for the routes in the module docstring."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        registry: CollectorRegistry = REGISTRY,
        history: StatusHistory | None = None,
    ) -> None:
        self.registry = registry
        self.history = history or StatusHistory(registry)
        page = status_page()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
                elif path == "/healthz":
                    self._send(200, "text/plain", b"ok\n")
                elif path == "/readyz":
                    ready = server.history.ready
                    self._send(200 if ready else 503, "text/plain", b"ready\n" if ready else b"starting\n")
                elif path == "/status.json":
                    body = json.dumps(server.history.snapshot()).encode()
                    self._send(200, "application/json", body)
                elif path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", page)
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        try:
            self.httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    def start(self) -> StatusServer:
        """Serve in a daemon thread and start sampling the history."""
        threading.Thread(target=self.httpd.serve_forever, name="streamrec-http", daemon=True).start()
        self.history.start()
        return self

    def stop(self) -> None:
        self.history.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
