"""Run the recommendation dataflow in this process (``streamrec run``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
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


def progress_line(snapshot: dict) -> str:
    """One line of how the run is doing, from :meth:`StatusHistory.snapshot` and the registry."""
    from prometheus_client import REGISTRY

    pts = snapshot["points"]
    last = pts[-1] if pts else {}
    window = pts[-10:]
    rate = sum(p["events_per_s"] for p in window) / len(window) if window else 0.0
    p99 = max((p["latency_p99_ms"] for p in window if p.get("latency_p99_ms") is not None), default=None)
    lag = sum(s.value for fam in REGISTRY.collect() for s in fam.samples if s.name == "bytewax_kafka_consumer_lag")
    dead = int(sum(last.get("dead_letters", {}).values()))
    return (
        f"{int(last.get('events_total', 0)):,} events, {rate:,.0f}/s, latency p99 "
        f"{'-' if p99 is None else f'{p99:,.0f} ms'}, lag {int(lag):,}, model {last.get('version') or '-'}, "
        f"dead letters {dead:,}"
    )


def _report_progress(interval_s: float, stop: threading.Event) -> None:
    from streamrec.flows import metrics

    while not stop.wait(interval_s):
        if metrics.STATUS.ready:
            print(progress_line(metrics.STATUS.snapshot()), file=sys.stderr, flush=True)


def run_flow(cfg: RunConfig, workers: int = 1) -> None:
    """Build and run the flow until SIGINT/SIGTERM (tail mode never ends by itself); the
    caller has checked the inputs (:func:`check_inputs`). A signal ends the flow cleanly
    (the batch in flight finishes, the epoch commits) and prints one line."""
    from bytewax.recovery import RecoveryConfig
    from bytewax.run import cli_main

    from streamrec.flows import metrics
    from streamrec.flows.recommend import build_flow
    from streamrec.flows.status_history import read_registry
    from streamrec.flows.timed_kafka import STOP
    from streamrec.shell.compile_ahead import compile_ahead

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    recovery = None
    if cfg.recovery:
        prepare_recovery(cfg)
        recovery = RecoveryConfig(str(cfg.recovery_dir), timedelta(seconds=0))
    compile_ahead(lambda line: print(line, file=sys.stderr, flush=True))
    flow = build_flow(cfg)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: STOP.set())
    if cfg.progress_interval_s > 0:
        metrics.STATUS.start()
        threading.Thread(target=_report_progress, args=(cfg.progress_interval_s, STOP), daemon=True).start()
    print(
        f"streamrec run: reading {cfg.in_topic} on {cfg.brokers}, state {cfg.state_dir}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    cli_main(
        flow,
        workers_per_process=workers,
        epoch_interval=timedelta(seconds=cfg.snapshot_interval_s),
        recovery_config=recovery,
    )
    now = read_registry(metrics.STATUS.registry)
    print(
        f"stopped after {int(now['events']):,} events; model {now['version'] or '-'}; "
        f"resume with the same --state {cfg.state_dir}",
        file=sys.stderr,
        flush=True,
    )
