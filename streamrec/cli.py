"""``streamrec`` command line: run, subscribe, produce, broker, demo, replay, ope, ab-report, model."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from streamrec.config import RunConfig


def _kafka_opts(values: list[str] | None) -> dict[str, str]:
    out = {}
    for kv in values or []:
        key, sep, value = kv.partition("=")
        if not sep:
            raise SystemExit(f"--kafka-opt expects KEY=VALUE, got {kv!r}")
        out[key] = value
    return out


def _add_kafka_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--brokers", default="127.0.0.1:9092", help="bootstrap servers host:port[,...]")
    p.add_argument("--kafka-config", default="", help="properties file passed to confluent-kafka "
                   "(security.protocol, sasl.*, ssl.* ...)")
    p.add_argument("--kafka-opt", action="append", metavar="KEY=VALUE",
                   help="one confluent-kafka setting (repeatable)")


def cmd_run(args: argparse.Namespace) -> int:
    from streamrec.runner import run_flow

    cfg = RunConfig.from_env()
    cfg.brokers, cfg.in_topic, cfg.out_topic = args.brokers, args.in_topic, args.out_topic
    cfg.dlq_topic, cfg.rewards_topic, cfg.items_topic = args.dlq, args.rewards, args.items
    cfg.state_dir, cfg.recovery = args.state, not args.no_recovery
    cfg.snapshot_interval_s, cfg.metrics_port = args.snapshot_interval, args.metrics_port
    cfg.k, cfg.policy, cfg.ab_split = args.k, args.policy, args.ab_split
    cfg.reward_window_s, cfg.hash_user_ids = args.reward_window, args.hash_user_ids
    cfg.kafka_config_file = args.kafka_config
    cfg.kafka.update(_kafka_opts(args.kafka_opt))
    if args.create_topics:
        from streamrec.broker import ensure_topics

        topics = [cfg.in_topic, cfg.out_topic, cfg.dlq_topic, cfg.rewards_topic] + (
            [cfg.items_topic] if cfg.items_topic else [])
        ensure_topics(cfg.brokers, topics, client_config=cfg.kafka_client_config())
    run_flow(cfg, workers=args.workers)
    return 0


def cmd_subscribe(args: argparse.Namespace) -> int:
    from streamrec.subscribe import format_recommendation, subscribe

    conf = _kafka_opts(args.kafka_opt)
    if args.kafka_config:
        from streamrec.config import read_properties

        conf = {**read_properties(args.kafka_config), **conf}
    for rec in subscribe(args.brokers, args.topic, user=args.user, from_beginning=args.from_beginning,
                         group=args.group, kafka_config=conf, idle_timeout_s=args.idle_timeout,
                         max_messages=args.max):
        print(json.dumps(rec) if args.json else format_recommendation(rec), flush=True)
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer

    from streamrec.broker import ensure_topics

    conf = {"bootstrap.servers": args.brokers, **_kafka_opts(args.kafka_opt)}
    ensure_topics(args.brokers, [args.topic], client_config=_kafka_opts(args.kafka_opt))
    producer = Producer(conf)
    n = 0
    with open(args.log, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            if line:
                producer.produce(args.topic, value=line)
                producer.poll(0)
                n += 1
    producer.flush()
    print(f"produced {n} records to {args.topic}")
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    from streamrec.broker import EmbeddedBroker, ensure_topics

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
    from streamrec.demo import run_demo

    return run_demo(events=args.events, state_dir=args.state, rate=args.rate, quiet=args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the recommendation dataflow against Kafka")
    _add_kafka_args(p)
    p.add_argument("--in", dest="in_topic", default="clicks")
    p.add_argument("--out", dest="out_topic", default="recommendations")
    p.add_argument("--dlq", default="clicks-dead-letter")
    p.add_argument("--rewards", default="rewards")
    p.add_argument("--items", default="", help="optional item-metadata topic")
    p.add_argument("--state", default="streamrec-state", help="state directory (model + recovery)")
    p.add_argument("--no-recovery", action="store_true", help="no Bytewax recovery (at-most-once)")
    p.add_argument("--snapshot-interval", type=float, default=2.0, help="seconds per epoch")
    p.add_argument("--metrics-port", type=int, default=0, help="Prometheus endpoint port (0 = off)")
    p.add_argument("--k", type=int, default=10, help="items per recommendation")
    p.add_argument("--policy", default="egreedy:0.1",
                   help="greedy | egreedy:EPS | softmax:TEMP | thompson | ucb:C")
    p.add_argument("--ab-split", default="",
                   help="A/B arms NAME=POLICY@SHARE,... e.g. 'a=egreedy:0.1@0.5,b=softmax:0.2@0.5'")
    p.add_argument("--reward-window", type=float, default=1800.0, help="reward join window, seconds")
    p.add_argument("--hash-user-ids", default="", metavar="SALT",
                   help="pseudonymise user ids with a keyed hash before state and logs")
    p.add_argument("--workers", type=int, default=1)
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

    from replay.commands import add_replay_parser
    from replay.ope_commands import add_ope_parsers
    from state.commands import add_model_parsers

    add_replay_parser(sub)
    add_ope_parsers(sub)
    add_model_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
