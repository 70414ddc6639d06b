"""Run the recommendation dataflow in this process (``streamrec run``)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

from streamrec.contract.config import RunConfig


def prepare_recovery(cfg: RunConfig) -> None:
    """Create the Bytewax recovery partition once; later runs resume from it."""
    from bytewax.recovery import init_db_dir

    d = cfg.recovery_dir
    if not any(d.glob("part-*.sqlite3")):
        d.mkdir(parents=True, exist_ok=True)
        init_db_dir(d, 1)


def input_topics(cfg: RunConfig) -> list[str]:
    """The topics the flow reads: clicks, items if any, the deltas topic when sharded."""
    return [cfg.in_topic] + ([cfg.items_topic] if cfg.items_topic else []) + ([cfg.deltas_topic] * (cfg.shards > 1))


def input_partitions(cfg: RunConfig, timeout_s: float = 3.0) -> dict[str, int | None]:
    """Partition count of each input topic (None where the broker does not tell us yet)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    topics = input_topics(cfg)
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
        check_and_record(cfg.state_dir, input_partitions(cfg), workers, resuming, cfg.shards)
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


def free_ports(n: int) -> list[int]:
    """``n`` loopback ports free right now (for a cluster's ``-a`` addresses)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def launch_cluster(argv: list[str], cfg: RunConfig, n_processes: int) -> int:
    """``streamrec run --processes N``: N processes of one Bytewax cluster on this machine
    (``streamrec run ARGV --process-id i --addresses ...``, one shared run id). A signal is
    passed on to all; when one process fails the others are stopped. Returns the first
    non-zero exit code (0 if all stopped cleanly)."""
    from streamrec.shell.compile_ahead import compile_ahead

    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(n_processes))
    if cfg.recovery:
        prepare_recovery(cfg)
    compile_ahead(lambda line: print(line, file=sys.stderr, flush=True))  # once, not in every member
    env = {**os.environ, "STREAMREC_RUN_ID": cfg.run_id or uuid.uuid4().hex[:16]}
    base = [sys.executable, "-m", "streamrec", "run", *argv, "--addresses", addresses]
    procs = [subprocess.Popen([*base, "--process-id", str(i)], env=env) for i in range(n_processes)]

    def forward(signum: int, _frame: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    print(f"streamrec run: {n_processes} processes on {addresses}", file=sys.stderr, flush=True)
    code, deadline = 0, float("inf")
    while any(p.poll() is None for p in procs):
        time.sleep(0.2)
        failed = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode]
        if failed and not code:  # a member died: the cluster cannot go on; stop the rest
            (i, code), deadline = failed[0], time.monotonic() + 15.0
            print(f"streamrec run: process {i} exited with {code}; stopping the others", file=sys.stderr, flush=True)
            for q in procs:
                if q.poll() is None:
                    q.terminate()
        if time.monotonic() > deadline:
            for q in procs:
                if q.poll() is None:
                    q.kill()
    return code or max((p.returncode or 0 for p in procs), default=0)


def run_flow(cfg: RunConfig, workers: int = 1, process_id: int | None = None, addresses: str = "") -> None:
    """Build and run the flow until SIGINT/SIGTERM (tail mode never ends by itself); the
    caller has checked the inputs (:func:`check_inputs`). A signal ends the flow cleanly
    (the batch in flight finishes, the epoch commits) and prints one line. With
    ``process_id`` this process is member ``process_id`` of the cluster ``addresses``
    (``host:port;...``), which serves metrics on ``metrics_port + process_id``."""
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
        if process_id is None:
            prepare_recovery(cfg)
        recovery = RecoveryConfig(str(cfg.recovery_dir), timedelta(seconds=0))
    peers = [a for a in addresses.split(";") if a]
    if process_id is not None and cfg.metrics_port:
        cfg.metrics_port += process_id
    compile_ahead(lambda line: print(line, file=sys.stderr, flush=True))
    flow = build_flow(cfg, max(1, len(peers)), workers, process_id or 0)
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
        process_id=process_id if peers else None,
        addresses=peers or None,
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
