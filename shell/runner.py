"""Run the recommendation dataflow in this process (``streamrec run``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from streamrec.contract.config import RunConfig


def prepare_recovery(cfg: RunConfig) -> None:
    """Create the Bytewax recovery partition once; later runs resume from it."""
    from bytewax.recovery import init_db_dir

    d = cfg.recovery_dir
    if not any(d.glob("part-*.sqlite3")):
        d.mkdir(parents=True, exist_ok=True)
        init_db_dir(d, 1)


def input_partitions(cfg: RunConfig, timeout_s: float = 3.0) -> dict[str, int | None]:
    """Partition count of each input topic (None where the broker does not tell us yet)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    topics = [cfg.in_topic] + ([cfg.items_topic] if cfg.items_topic else [])
    try:
        admin = AdminClient({"bootstrap.servers": cfg.brokers, "log_level": 0, **cfg.kafka_client_config()})
        md = admin.list_topics(timeout=timeout_s).topics
    except KafkaException:
        md = {}
    return {t: len(md[t].partitions) if t in md and md[t].partitions else None for t in topics}


def check_inputs(cfg: RunConfig, workers: int) -> None:
    """Refuse inputs other than those the state's recovery store was made for (one line, exit 2)."""
    from streamrec.shell.usage_checks import UsageError
    from streamrec.state.run_topology import TopologyChanged, check_and_record

    resuming = cfg.recovery and any(cfg.recovery_dir.glob("part-*.sqlite3"))
    try:
        check_and_record(cfg.state_dir, input_partitions(cfg), workers, resuming)
    except TopologyChanged as exc:
        raise UsageError(str(exc)) from None


def run_flow(cfg: RunConfig, workers: int = 1) -> None:
    """Build and run the flow until it is interrupted (tail mode never ends by itself); the
    caller has checked the inputs (:func:`check_inputs`)."""
    from bytewax.recovery import RecoveryConfig
    from bytewax.run import cli_main
    from streamrec.flows.recommend import build_flow

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    recovery = None
    if cfg.recovery:
        prepare_recovery(cfg)
        recovery = RecoveryConfig(str(cfg.recovery_dir), timedelta(seconds=0))
    cli_main(build_flow(cfg), workers_per_process=workers,
             epoch_interval=timedelta(seconds=cfg.snapshot_interval_s), recovery_config=recovery)
