"""Run configuration shared by the CLI and ``python -m bytewax.run streamrec.flows.recommend``.

Every field can come from an environment variable ``STREAMREC_<FIELD>`` (upper
case), so the plain Bytewax runner needs no arguments. Kafka client settings
(TLS/SASL, timeouts) pass through verbatim to confluent-kafka: from a
properties file (``key=value`` lines) and/or ``STREAMREC_KAFKA_<KEY>``
variables where ``_`` stands for ``.`` (``STREAMREC_KAFKA_SECURITY_PROTOCOL=SASL_SSL``).
Model settings: ``STREAMREC_MODEL_CONFIG`` (a TOML file) and ``STREAMREC_MODEL_SET``
(``k=32,lr=0.05``), checked by ``streamrec.state.settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class RunConfig:
    """Everything one run of the recommendation dataflow needs."""

    brokers: str = "127.0.0.1:9092"
    in_topic: str = "clicks"
    out_topic: str = "recommendations"
    dlq_topic: str = "clicks-dead-letter"
    rewards_topic: str = "rewards"
    items_topic: str = ""
    state_dir: str = "streamrec-state"
    recovery: bool = True
    snapshot_interval_s: float = 2.0
    metrics_port: int = 0
    #: address the metrics/status endpoint binds (0.0.0.0 to serve other machines)
    metrics_host: str = "127.0.0.1"
    #: seconds between the progress lines of ``streamrec run`` (0 = none)
    progress_interval_s: float = 10.0
    k: int = 10
    n_candidates: int = 50
    policy: str = "egreedy:0.1"
    ab_split: str = ""
    reward_window_s: float = 1800.0
    hash_user_ids: str = ""
    kafka_config_file: str = ""
    batch_size: int = 1000
    #: TOML file of model settings (``RecommenderConfig`` fields), see ``streamrec.state.settings``
    model_config: str = ""
    #: single model settings ``KEY=VALUE,KEY=VALUE`` applied after the file
    model_set: str = ""
    #: engines the model is split into, keyed by user (1 = one engine); a multiple of the workers
    shards: int = 1
    #: topic the shards exchange their item-side deltas through (shards > 1)
    deltas_topic: str = "model-deltas"
    #: a shard emits a delta after this many local events (and at every epoch)
    sync_every: int = 1000
    #: one id per cluster start, the same on every process (``streamrec run --processes`` sets it)
    run_id: str = ""
    kafka: dict[str, str] = field(default_factory=dict)
    #: set when Bytewax's runner was given its own recovery directory
    recovery_dir_override: str = ""

    @property
    def recovery_dir(self) -> Path:
        return Path(self.recovery_dir_override or Path(self.state_dir) / "recovery")

    @property
    def model_dir(self) -> Path:
        """The RocksDB model store (with its epochs/ and versions/) is the state directory itself."""
        return Path(self.state_dir)

    def kafka_client_config(self) -> dict[str, str]:
        """Extra confluent-kafka settings: the properties file, then explicit ones."""
        conf: dict[str, str] = {}
        if self.kafka_config_file:
            conf.update(read_properties(self.kafka_config_file))
        conf.update(self.kafka)
        return conf

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunConfig:
        """Build a config from ``STREAMREC_*`` variables; unset ones keep defaults."""
        env = os.environ if env is None else env
        cfg = cls()
        for f in fields(cls):
            if f.name == "kafka":
                continue
            raw = env.get(f"STREAMREC_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cfg, f.name)
            if isinstance(default, bool):
                value: object = raw.strip().lower() in {"1", "true", "yes", "on"}
            else:
                value = type(default)(raw)
            setattr(cfg, f.name, value)
        prefix = "STREAMREC_KAFKA_"
        for key, value in env.items():
            if key.startswith(prefix) and key not in {"STREAMREC_KAFKA_CONFIG_FILE"}:
                cfg.kafka[key[len(prefix) :].lower().replace("_", ".")] = value
        return cfg

    def to_env(self) -> dict[str, str]:
        """The inverse of :meth:`from_env` (used to start the flow in a subprocess)."""
        out = {}
        for f in fields(self):
            if f.name == "kafka":
                continue
            v = getattr(self, f.name)
            out[f"STREAMREC_{f.name.upper()}"] = ("1" if v else "0") if isinstance(v, bool) else str(v)
        for k, v in self.kafka.items():
            out["STREAMREC_KAFKA_" + k.upper().replace(".", "_")] = v
        return out


def read_properties(path: str) -> dict[str, str]:
    """Parse a Java-style ``key=value`` properties file (``#`` comments)."""
    out: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: expected key=value, got {line!r}")
        out[key.strip()] = value.strip()
    return out
