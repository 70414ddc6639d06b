"""The recommendation dataflow: clicks topic -> engine -> recommendations, rewards, dead letters.

Run it with Bytewax's runner (configuration from ``STREAMREC_*`` variables, see
:mod:`streamrec.contract.config`)::

    python -m bytewax.run streamrec.flows.recommend -r STATE/recovery -s 2 -b 0

or with ``streamrec run --brokers ... --in clicks --out recommendations --state DIR``,
which also initialises the recovery store and the metrics endpoint.

Wiring (three operators; parsing, dead letters and encoding happen inside the engine step,
once per batch; between operators only the key is added)::

    kafka(in [, items]) -> key "model" -> engine (stateful_batch) -> kafka sink (flushed per epoch)
                                          parse: bad input -> dead-letter message
                                          valid -> learn, rank, explore -> recommendation,
                                                   reward records

With ``shards`` S > 1 (a multiple of the cluster's workers) the model is split by user::

    kafka(in) -> to a shard of this process (by user) --+
    kafka(items) -> to every shard ---------------------+-> merge -> engine per shard
    kafka(deltas) -> to the other shards ---------------+    (flows.shard_engine) -> sink
                                                              deltas -> deltas topic

A click stays in the process that read it (``flows.shard_routing``): producers key clicks by
user, so each user's partition, read by one worker for the run, always meets the same shard.
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
from streamrec.flows.shard_routing import Router, check_layout, fan_out, local_shards
from streamrec.flows.timed_kafka import EpochKafkaSink, TimedKafkaSource

MODEL_KEY = "model"
#: the largest message the sharded flow produces (a delta of many items and rows)
DELTA_MAX_BYTES = 64 << 20


def _build_engine(cfg: RunConfig, resume_state):
    from streamrec.flows.engine_step import (
        EngineLogic,  # imported late: loads numba kernels
    )

    return EngineLogic(cfg, resume_state)


def _build_shard(cfg: RunConfig, run: str, resume_state):
    from streamrec.flows.shard_engine import ShardLogic  # imported late: loads numba kernels

    return ShardLogic(cfg, run, resume_state)


def _model_key(_msg) -> str:
    return MODEL_KEY


def cluster_run_id(cfg: RunConfig, n_processes: int) -> str:
    """The run id every process of this cluster start shares (``flows.delta_inbox``)."""
    import uuid

    if cfg.run_id:
        return cfg.run_id
    if n_processes > 1:
        raise ValueError(
            "a cluster of several processes needs one run id per start: set STREAMREC_RUN_ID to the same new "
            "value on every process (streamrec run --processes does it)"
        )
    return uuid.uuid4().hex[:16]


def build_flow(cfg: RunConfig, n_processes: int = 1, workers_per_process: int = 1, process_id: int = 0) -> Dataflow:
    """Wire the dataflow for ``cfg`` as process ``process_id`` of ``n_processes`` x
    ``workers_per_process`` Bytewax workers; nothing connects until it runs. Raises
    ``ValueError`` (one line) for an uneven layout."""
    keys = check_layout(cfg.shards, n_processes, workers_per_process) if cfg.shards > 1 else []
    run = cluster_run_id(cfg, n_processes) if keys else ""
    metrics.serve(cfg.metrics_port, cfg.metrics_host)
    # librdkafka logs through Python logging (``streamrec.kafka``), not raw on stderr
    # (confluent-kafka takes a Logger object in its config; Bytewax's annotation says str values)
    kafka_conf: dict[str, Any] = {"logger": logging.getLogger("streamrec.kafka"), **cfg.kafka_client_config()}
    brokers = cfg.brokers.split(",")
    # short fetch waits: a broker that holds an empty fetch for librdkafka's default 500 ms
    # (the embedded one does) would otherwise add that to every event's latency
    source_conf = {"fetch.wait.max.ms": "10", **kafka_conf}

    def source(name: str, topics: list[str]):
        kafka = TimedKafkaSource(
            brokers,
            topics,
            tail=True,
            starting_offset=OFFSET_BEGINNING,
            add_config=source_conf,
            batch_size=cfg.batch_size,
            raise_on_errors=False,
        )
        return op.input(name, flow, kafka)

    flow = Dataflow("streamrec")
    if keys:
        # the clicks alone in one source, so that Bytewax spreads their partitions evenly
        # over the workers (it deals a source's partitions out in turn)
        local = local_shards(cfg.shards, n_processes, workers_per_process, process_id)
        inputs = [
            op.flat_map("route", source("kafka_in", [cfg.in_topic]), Router(keys, local=local)),
            op.flat_map("fan_out", source("deltas_in", [cfg.deltas_topic]), fan_out(keys)),
        ]
        if cfg.items_topic:
            items = source("items_in", [cfg.items_topic])
            inputs.append(op.flat_map("items_to_all", items, fan_out(keys, skip_origin=False)))
        routed = op.merge("events_and_deltas", *inputs)
        decided = op.stateful_batch("engine", routed, functools.partial(_build_shard, cfg, run))
    else:
        raw = source("kafka_in", [cfg.in_topic] + ([cfg.items_topic] if cfg.items_topic else []))
        keyed = op.key_on("one_model", raw, _model_key)
        decided = op.stateful_batch("engine", keyed, functools.partial(_build_engine, cfg))
    # a shard's delta can pass librdkafka's 1 MB default (the deltas topic needs a matching
    # max.message.bytes on a real Kafka broker, see the README)
    sink_conf = {**kafka_conf, "message.max.bytes": str(DELTA_MAX_BYTES)} if keys else kafka_conf
    sink = EpochKafkaSink(brokers, n_processes, workers_per_process, process_id, add_config=sink_conf)
    op.output("kafka_out", decided, sink)  # keyed by engine: each worker writes its own engines' output
    return flow


def bytewax_recovery_dir(argv: list[str], env: dict[str, str]) -> str | None:
    """The ``-r/--recovery-directory`` that ``python -m bytewax.run`` was given, if any."""
    for i, arg in enumerate(argv):
        if arg in ("-r", "--recovery-directory") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--recovery-directory="):
            return arg.split("=", 1)[1]
    return env.get("BYTEWAX_RECOVERY_DIRECTORY") or None


def bytewax_cluster(argv: list[str], env: dict[str, str]) -> tuple[int, int, int]:
    """``(processes, workers per process, this process's id)`` from ``python -m bytewax.run``'s
    ``-a``/``-w``/``-i`` (or their ``BYTEWAX_*`` variables)."""
    addresses, workers = env.get("BYTEWAX_ADDRESSES", ""), env.get("BYTEWAX_WORKERS_PER_PROCESS", "1")
    process_id = env.get("BYTEWAX_PROCESS_ID", "0")
    for i, arg in enumerate(argv[:-1]):
        if arg in ("-a", "--addresses"):
            addresses = argv[i + 1]
        elif arg in ("-w", "--workers-per-process"):
            workers = argv[i + 1]
        elif arg in ("-i", "--process-id"):
            process_id = argv[i + 1]
    return max(1, len([a for a in addresses.split(";") if a])), int(workers), int(process_id)


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
    return build_flow(cfg, *bytewax_cluster(sys.argv, dict(os.environ)))


def __getattr__(name: str):
    # ``python -m bytewax.run streamrec.flows.recommend`` looks up ``flow``: build it on demand so importing
    # this module (tests, the CLI) has no side effects.
    if name == "flow":
        return flow_from_env()
    raise AttributeError(name)
