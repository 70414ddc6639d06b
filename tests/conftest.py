"""Shared fixtures: one real embedded Kafka-protocol broker (Tansu) per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streamrec.shell.broker import EmbeddedBroker  # noqa: E402


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A running broker on a free loopback port; stopped after the session."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=str(log)) as b:
        yield b


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load from numba's cache) the engine's kernels once, in this process, so the
    dataflow processes started by the Kafka tests find them cached instead of compiling each."""
    from streamrec.online.recommender import Recommender
    from streamrec.shell.traffic import ClickGenerator

    rec = Recommender()
    events = list(ClickGenerator(n_users=5, n_items=20, seed=0).events(20))
    rec.process_batch(events, n_candidates=10, rank_before=True)
    rec.rank("u1", k=5)
