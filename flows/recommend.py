"""The recommendation dataflow: clicks topic -> engine -> recommendations, rewards, dead letters.

Run it with Bytewax's runner (configuration from ``STREAMREC_*`` variables, see
:mod:`streamrec.contract.config`)::

    python -m bytewax.run streamrec.flows.recommend -r STATE/recovery -s 2

or with ``streamrec run --brokers ... --in clicks --out recommendations --state DIR``,
which also initialises the recovery store and the metrics endpoint.

Wiring (four operators; parsing, dead letters and encoding happen inside the engine step,
once per batch; between operators only the key is added and removed)::

    kafka(in [, items]) -> key "model" -> engine (stateful_batch) -> unkey -> kafka sink
                                          parse: bad input -> dead-letter message
                                          valid -> learn, rank, explore -> recommendation,
                                                   reward records
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from confluent_kafka import OFFSET_BEGINNING

from streamrec.contract.config import RunConfig
from streamrec.flows import metrics
from streamrec.flows.timed_kafka import TimedKafkaSink, TimedKafkaSource

MODEL_KEY = "model"


def _build_engine(cfg: RunConfig, resume_state):
    from streamrec.flows.engine_step import (
        EngineLogic,  # imported late: loads numba kernels
    )

    return EngineLogic(cfg, resume_state)


def _model_key(_msg) -> str:
    return MODEL_KEY


def build_flow(cfg: RunConfig) -> Dataflow:
    """Wire the dataflow for ``cfg``; nothing connects until it runs."""
    metrics.serve(cfg.metrics_port, cfg.metrics_host)
    # librdkafka logs through Python logging (``streamrec.kafka``), not raw on stderr
    # (confluent-kafka takes a Logger object in its config; Bytewax's annotation says str values)
    kafka_conf: dict[str, Any] = {"logger": logging.getLogger("streamrec.kafka"), **cfg.kafka_client_config()}
    brokers = cfg.brokers.split(",")
    topics = [cfg.in_topic] + ([cfg.items_topic] if cfg.items_topic else [])
    flow = Dataflow("streamrec")
    # short fetch waits: a broker that holds an empty fetch for librdkafka's default 500 ms
    # (the embedded one does) would otherwise add that to every event's latency
    source_conf = {"fetch.wait.max.ms": "10", **kafka_conf}
    source = TimedKafkaSource(
        brokers,
        topics,
        tail=True,
        starting_offset=OFFSET_BEGINNING,
        add_config=source_conf,
        batch_size=cfg.batch_size,
        raise_on_errors=False,
    )
    raw = op.input("kafka_in", flow, source)
    keyed = op.key_on("one_model", raw, _model_key)
    decided = op.stateful_batch("engine", keyed, functools.partial(_build_engine, cfg))
    op.output("kafka_out", op.key_rm("unkey", decided), TimedKafkaSink(brokers, topic=None, add_config=kafka_conf))
    return flow


def bytewax_recovery_dir(argv: list[str], env: dict[str, str]) -> str | None:
    """The ``-r/--recovery-directory`` that ``python -m bytewax.run`` was given, if any."""
    for i, arg in enumerate(argv):
        if arg in ("-r", "--recovery-directory") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--recovery-directory="):
            return arg.split("=", 1)[1]
    return env.get("BYTEWAX_RECOVERY_DIRECTORY") or None


def flow_from_env() -> Dataflow:
    """Factory for ``python -m bytewax.run streamrec.flows.recommend``: config from ``STREAMREC_*``.

    Recovery follows the runner's own flags: with ``-r DIR`` the model is committed per
    epoch and aligned with Bytewax's snapshots (its start-up baseline kept in DIR);
    without, dirty rows are written every batch and a restart re-reads the input.
    """
    import os
    import sys

    cfg = RunConfig.from_env()
    recovery = bytewax_recovery_dir(sys.argv, dict(os.environ))
    cfg.recovery = recovery is not None
    if recovery is not None:
        cfg.recovery_dir_override = recovery
    return build_flow(cfg)


def __getattr__(name: str):
    # ``python -m bytewax.run streamrec.flows.recommend`` looks up ``flow``: build it on demand so importing
    # this module (tests, the CLI) has no side effects.
    if name == "flow":
        return flow_from_env()
    raise AttributeError(name)
