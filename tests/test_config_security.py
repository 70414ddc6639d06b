"""Configuration plumbing: STREAMREC_* variables, Kafka client settings passed through, id hashing."""

from __future__ import annotations

from types import SimpleNamespace

from streamrec.contract.config import RunConfig, read_properties
from streamrec.flows.parse import Arrival, DeadLetter, parse_message, pseudonymize
from streamrec.shell.cli import build_parser, run_config_from_args


def test_env_round_trip_and_kafka_passthrough(tmp_path):
    props = tmp_path / "client.properties"
    props.write_text(
        "# TLS + SASL\nsecurity.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nssl.ca.location=/etc/ca.pem\n"
    )
    env = {
        "STREAMREC_BROKERS": "k1:9093,k2:9093",
        "STREAMREC_RECOVERY": "0",
        "STREAMREC_K": "5",
        "STREAMREC_KAFKA_CONFIG_FILE": str(props),
        "STREAMREC_KAFKA_SASL_USERNAME": "svc",
    }
    cfg = RunConfig.from_env(env)
    assert (cfg.brokers, cfg.recovery, cfg.k) == ("k1:9093,k2:9093", False, 5)
    conf = cfg.kafka_client_config()
    assert conf == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "ssl.ca.location": "/etc/ca.pem",
        "sasl.username": "svc",
    }
    again = RunConfig.from_env(cfg.to_env())
    assert again == cfg


def test_cli_flags_override_environment(monkeypatch):
    monkeypatch.setenv("STREAMREC_POLICY", "softmax:0.5")
    monkeypatch.setenv("STREAMREC_IN_TOPIC", "from-env")
    args = build_parser().parse_args(["run", "--in", "from-flag", "--kafka-opt", "security.protocol=SSL"])
    cfg = run_config_from_args(args)
    assert cfg.in_topic == "from-flag" and cfg.policy == "softmax:0.5"
    assert cfg.kafka_client_config()["security.protocol"] == "SSL"


def test_properties_file_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text("no equals sign here\n")
    try:
        read_properties(str(bad))
    except ValueError as exc:
        assert "key=value" in str(exc)
    else:
        raise AssertionError("accepted a line without '='")


def _msg(value: bytes, topic: str = "clicks"):
    return SimpleNamespace(topic=topic, partition=0, offset=7, value=value, timestamp=(1, 1_700_000_000_000))


def test_user_ids_are_pseudonymised_before_anything_else_sees_them():
    raw = b'{"event_id": "e1", "ts": 1.7e9, "user": "alice@example.com", "item": "i1"}'
    out = parse_message(_msg(raw), user_salt="s3cret")
    assert isinstance(out, Arrival)
    assert out.payload.user == pseudonymize("alice@example.com", "s3cret")
    assert "alice" not in out.payload.user
    assert pseudonymize("alice@example.com", "other") != out.payload.user
    assert out.broker_ts_ms == 1_700_000_000_000


def test_items_topic_messages_parse_as_metadata_or_dead_letter():
    ok = parse_message(_msg(b'{"item": "i9", "attributes": {"genres": ["drama"]}}', "items"), items_topic="items")
    assert isinstance(ok, Arrival) and ok.payload.attributes == {"genres": ("drama",)}
    bad = parse_message(_msg(b'{"attributes": {}}', "items"), items_topic="items")
    assert isinstance(bad, DeadLetter) and bad.reason.startswith("missing_field")


def test_recovery_follows_the_bytewax_runner_flags():
    from streamrec.flows.recommend import bytewax_recovery_dir

    assert bytewax_recovery_dir(["bytewax.run", "streamrec.flows.recommend", "-r", "/s/rec", "-s", "2"], {}) == "/s/rec"
    assert bytewax_recovery_dir(["x", "--recovery-directory=/d"], {}) == "/d"
    assert bytewax_recovery_dir(["x"], {"BYTEWAX_RECOVERY_DIRECTORY": "/e"}) == "/e"
    assert bytewax_recovery_dir(["x", "streamrec.flows.recommend"], {}) is None
