"""``streamrec`` command line: run, subscribe, produce, broker, demo, replay, ope, ab-report, model."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from streamrec.contract.config import RunConfig
from streamrec.shell.usage_checks import UsageError, add_model_args


def _kafka_opts(values: list[str] | None) -> dict[str, str]:
    out = {}
    for kv in values or []:
        key, sep, value = kv.partition("=")
        if not sep:
            raise UsageError(f"--kafka-opt {kv}: expected KEY=VALUE (a confluent-kafka setting)")
        out[key] = value
    return out


def _add_connect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up when no broker answers for this long (default 30)",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="level of streamrec's and librdkafka's log lines (default warning)",
    )


def _add_kafka_args(p: argparse.ArgumentParser) -> None:
    _add_connect_args(p)
    p.add_argument("--brokers", default="127.0.0.1:9092", help="bootstrap servers host:port[,...]")
    p.add_argument(
        "--kafka-config",
        default="",
        help="properties file passed to confluent-kafka (security.protocol, sasl.*, ssl.* ...)",
    )
    p.add_argument("--kafka-opt", action="append", metavar="KEY=VALUE", help="one confluent-kafka setting (repeatable)")


# ``streamrec run`` flag -> RunConfig field; flags left out keep the STREAMREC_* value or the default
_RUN_FLAGS = {
    "brokers": "brokers",
    "in_topic": "in_topic",
    "out_topic": "out_topic",
    "dlq": "dlq_topic",
    "rewards": "rewards_topic",
    "items": "items_topic",
    "state": "state_dir",
    "snapshot_interval": "snapshot_interval_s",
    "metrics_port": "metrics_port",
    "k": "k",
    "n_candidates": "n_candidates",
    "policy": "policy",
    "ab_split": "ab_split",
    "reward_window": "reward_window_s",
    "hash_user_ids": "hash_user_ids",
    "kafka_config": "kafka_config_file",
    "batch_size": "batch_size",
    "model_config": "model_config",
    "metrics_host": "metrics_host",
    "progress_interval": "progress_interval_s",
    "shards": "shards",
    "deltas": "deltas_topic",
    "sync_every": "sync_every",
}


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """STREAMREC_* environment first, then the flags that were given."""
    cfg = RunConfig.from_env()
    for flag, name in _RUN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            setattr(cfg, name, value)
    if args.no_recovery:
        cfg.recovery = False
    if args.model_set:
        cfg.model_set = ",".join(filter(None, [cfg.model_set, *args.model_set]))
    cfg.kafka.update(_kafka_opts(args.kafka_opt))
    return cfg


def _connect(args: argparse.Namespace, extra: dict) -> object:
    """Wait for the brokers (one line per retry); cluster metadata, or PreflightError."""
    from streamrec.shell.preflight import wait_for_brokers

    return wait_for_brokers(
        args.brokers, extra, timeout_s=args.connect_timeout, say=lambda line: print(line, file=sys.stderr, flush=True)
    )


def _check_partitions(metadata, topic: str, n_processes: int) -> None:
    """A cluster's processes serve the clicks of the partitions they read: refuse a clicks
    topic with fewer partitions than processes (one line, exit 2)."""
    md = metadata.topics.get(topic)
    n = len(md.partitions) if md is not None and md.partitions else None
    if n is not None and n < n_processes:
        raise UsageError(
            f"--in {topic} has {n} partition{'s' * (n > 1)} for {n_processes} processes: a process serves the clicks "
            f"of the partitions it reads, so give the topic at least {n_processes} partitions"
        )


def cmd_run(args: argparse.Namespace) -> int:
    import os

    from streamrec.flows.shard_routing import ShardLayoutError, check_layout
    from streamrec.shell.broker import ensure_topics
    from streamrec.shell.preflight import check_topics
    from streamrec.shell.runner import check_inputs, launch_cluster, run_flow
    from streamrec.shell.usage_checks import check_run

    cfg = run_config_from_args(args)
    if args.shards is None and "STREAMREC_SHARDS" not in os.environ:
        cfg.shards = args.processes * args.workers  # one shard per worker
    if args.process_id is not None:  # a member started by --processes: the launcher checked everything
        run_flow(cfg, workers=args.workers, process_id=args.process_id, addresses=args.addresses)
        return 0
    if args.processes < 1:
        raise UsageError(f"--processes {args.processes}: must be >= 1")
    if cfg.shards > 1 or args.processes > 1:
        try:
            check_layout(cfg.shards, args.processes, args.workers)
        except ShardLayoutError as exc:
            raise UsageError(str(exc)) from None
    check_run(cfg, args.workers)
    check_inputs(cfg, args.processes * args.workers)  # a changed topology is a usage error, broker or not
    args.brokers = cfg.brokers
    metadata = _connect(args, cfg.kafka_client_config())
    inputs = [cfg.in_topic] + ([cfg.items_topic] if cfg.items_topic else [])
    outputs = [cfg.out_topic, cfg.dlq_topic, cfg.rewards_topic] + ([cfg.deltas_topic] * (cfg.shards > 1))
    missing = check_topics(metadata, inputs, cfg.brokers, create=args.create_topics)
    _check_partitions(metadata, cfg.in_topic, args.processes)
    if cfg.in_topic in missing:  # one partition per process, so every process reads clicks
        ensure_topics(cfg.brokers, [cfg.in_topic], args.processes, client_config=cfg.kafka_client_config())
        missing.remove(cfg.in_topic)
    missing += check_topics(metadata, outputs, cfg.brokers, create=True)
    if missing:
        ensure_topics(cfg.brokers, missing, client_config=cfg.kafka_client_config())
    if args.processes > 1:
        return launch_cluster(args.argv, cfg, args.processes)
    run_flow(cfg, workers=args.workers)
    return 0


def cmd_subscribe(args: argparse.Namespace) -> int:
    from streamrec.shell.subscribe import format_recommendation, subscribe

    conf = _kafka_opts(args.kafka_opt)
    if args.kafka_config:
        from streamrec.contract.config import read_properties
        from streamrec.shell.usage_checks import check_kafka_config

        check_kafka_config(args.kafka_config)
        conf = {**read_properties(args.kafka_config), **conf}
    _connect(args, conf)
    for rec in subscribe(
        args.brokers,
        args.topic,
        user=args.user,
        from_beginning=args.from_beginning,
        group=args.group,
        kafka_config=conf,
        idle_timeout_s=args.idle_timeout,
        max_messages=args.max,
    ):
        print(json.dumps(rec) if args.json else format_recommendation(rec), flush=True)
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer

    from streamrec.contract.config import read_properties
    from streamrec.shell.broker import ensure_topics
    from streamrec.shell.preflight import client_config
    from streamrec.shell.progress import Progress
    from streamrec.shell.usage_checks import check_file, check_kafka_config

    check_file("log", args.log, "a JSONL file of events")
    check_kafka_config(args.kafka_config)
    extra = {**(read_properties(args.kafka_config) if args.kafka_config else {}), **_kafka_opts(args.kafka_opt)}
    _connect(args, extra)
    ensure_topics(args.brokers, [args.topic], client_config=extra)
    producer = Producer(client_config(args.brokers, extra))
    n = 0
    with open(args.log, "rb") as fh:
        total = sum(1 for line in fh if line.strip())
        fh.seek(0)
        with Progress("produce", total=total, unit="records") as bar:
            for line in fh:
                line = line.rstrip(b"\n")
                if line:
                    producer.produce(args.topic, value=line)
                    producer.poll(0)
                    n += 1
                    bar.update()
    producer.flush()
    print(f"produced {n} records to {args.topic}")
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    from streamrec.shell.broker import EmbeddedBroker, ensure_topics
    from streamrec.shell.usage_checks import check_port

    check_port("--port", args.port, "127.0.0.1")
    with EmbeddedBroker(port=args.port) as broker:
        ensure_topics(broker.bootstrap, args.topics.split(","))
        print(f"embedded broker on {broker.bootstrap} (topics {args.topics}); Ctrl-C to stop", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streamrec.shell.demo import run_demo

    return run_demo(events=args.events, state_dir=args.state, rate=args.rate, quiet=args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "run",
        help="run the recommendation dataflow against Kafka",
        description="Flags override STREAMREC_* environment variables, which override the defaults shown.",
    )
    d = RunConfig()
    p.add_argument("--brokers", help=f"bootstrap servers host:port[,...] (default {d.brokers})")
    p.add_argument(
        "--kafka-config", help="properties file passed to confluent-kafka (security.protocol, sasl.*, ssl.* ...)"
    )
    p.add_argument("--kafka-opt", action="append", metavar="KEY=VALUE", help="one confluent-kafka setting (repeatable)")
    p.add_argument("--in", dest="in_topic", help=f"click events topic (default {d.in_topic})")
    p.add_argument("--out", dest="out_topic", help=f"recommendations topic (default {d.out_topic})")
    p.add_argument("--dlq", help=f"dead-letter topic (default {d.dlq_topic})")
    p.add_argument("--rewards", help=f"reward records topic (default {d.rewards_topic})")
    p.add_argument("--items", help="optional item-metadata topic")
    p.add_argument("--state", help=f"state directory: model, versions, recovery (default {d.state_dir})")
    p.add_argument(
        "--no-recovery",
        action="store_true",
        help="no Bytewax recovery: state saved every batch, but a restart re-reads the input topic from the beginning",
    )
    p.add_argument("--snapshot-interval", type=float, help=f"seconds per epoch (default {d.snapshot_interval_s})")
    p.add_argument(
        "--metrics-port",
        type=int,
        help="HTTP port of /metrics, /healthz, /readyz and the live status page / (default off)",
    )
    p.add_argument(
        "--metrics-host", help=f"address the metrics port binds (default {d.metrics_host}; 0.0.0.0 for all interfaces)"
    )
    p.add_argument(
        "--progress-interval",
        type=float,
        metavar="SECONDS",
        help=f"a progress line every N seconds, 0 = none (default {d.progress_interval_s:g})",
    )
    p.add_argument("--k", type=int, help=f"items per recommendation (default {d.k})")
    p.add_argument("--n-candidates", type=int, help=f"candidates the policy picks from (default {d.n_candidates})")
    p.add_argument(
        "--policy", help=f"greedy | egreedy:EPS | softmax:TEMP | thompson:SIGMA0 | ucb:C | uniform (default {d.policy})"
    )
    p.add_argument("--ab-split", help="A/B arms NAME=POLICY@SHARE,... e.g. 'a=egreedy:0.1@0.5,b=softmax:0.2@0.5'")
    p.add_argument(
        "--reward-window",
        type=float,
        help=f"reward join window in event-time seconds (default {d.reward_window_s:.0f})",
    )
    p.add_argument(
        "--hash-user-ids", metavar="SALT", help="pseudonymise user ids with a keyed hash before state and logs"
    )
    p.add_argument("--batch-size", type=int, help=f"max Kafka messages per batch (default {d.batch_size})")
    add_model_args(p)
    _add_connect_args(p)
    p.add_argument("--workers", type=int, default=1, help="Bytewax workers per process (default 1)")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="start a Bytewax cluster of N processes on this machine (default 1; on several machines "
        "use python -m bytewax.run -i/-a, see the README)",
    )
    p.add_argument(
        "--shards",
        type=int,
        help="engines the model is split into by user, a multiple of processes x workers (default: one per worker)",
    )
    p.add_argument("--deltas", help=f"topic the shards exchange item-side deltas through (default {d.deltas_topic})")
    p.add_argument(
        "--sync-every",
        type=int,
        metavar="T",
        help=f"a shard sends its delta after T local events, and every epoch (default {d.sync_every})",
    )
    p.add_argument("--process-id", type=int, help=argparse.SUPPRESS)
    p.add_argument("--addresses", default="", help=argparse.SUPPRESS)
    p.add_argument("--create-topics", action="store_true", help="create missing topics first")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("subscribe", help="print recommendations as they arrive")
    _add_kafka_args(p)
    p.add_argument("--topic", default="recommendations")
    p.add_argument("--user", default=None)
    p.add_argument("--group", default=None, help="consumer group (default: read all partitions)")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--idle-timeout", type=float, default=None, help="stop after N idle seconds")
    p.add_argument("--max", type=int, default=None, help="stop after N messages")
    p.add_argument("--json", action="store_true", help="print raw JSON messages")
    p.set_defaults(func=cmd_subscribe)

    p = sub.add_parser("produce", help="produce a JSONL file of events to a topic")
    _add_kafka_args(p)
    p.add_argument("log")
    p.add_argument("--topic", default="clicks")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("broker", help="run the embedded Kafka-protocol broker (Tansu)")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--topics", default="clicks,recommendations,clicks-dead-letter,rewards")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("demo", help="embedded broker + generated traffic + flow + live view")
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--rate", type=float, default=500.0, help="events per second")
    p.add_argument("--state", default="demo-state")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    from streamrec.shell.generate_command import add_generate_parser
    from streamrec.shell.model_commands import add_model_parsers
    from streamrec.shell.ope_commands import add_ope_parsers
    from streamrec.shell.replay_commands import add_replay_parser

    add_replay_parser(sub)
    add_ope_parsers(sub)
    add_model_parsers(sub)
    add_generate_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from streamrec.shell.preflight import PreflightError
    from streamrec.state.settings import SettingsError

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)[1:]  # after the command name
    _set_log_level(getattr(args, "log_level", "warning"))
    name = " ".join(filter(None, [args.command, getattr(args, "model_cmd", None)]))
    try:
        return int(args.func(args) or 0)
    except (UsageError, SettingsError) as exc:
        print(f"streamrec {name}: error: {exc}", file=sys.stderr)
        return 2
    except PreflightError as exc:
        print(f"streamrec {name}: error: {exc}", file=sys.stderr)
        return 1


def _set_log_level(level: str) -> None:
    """One log format for streamrec and librdkafka (through the ``streamrec.kafka`` logger)."""
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level.upper())


if __name__ == "__main__":
    sys.exit(main())
