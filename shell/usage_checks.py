"""Checks of the CLI's flags and files before any work starts: each mistake is one line.

Every check raises :class:`UsageError` naming the flag, the value and what is
allowed; ``cli.main`` prints it and exits 2. Nothing here starts a dataflow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streamrec.contract.config import RunConfig, read_properties

POLICIES = "greedy | uniform | egreedy:EPS | softmax:TEMP | thompson:SIGMA0 | ucb:C"


class UsageError(Exception):
    """A flag or file the command cannot use; the message is one line for the user."""


def add_model_args(p: argparse.ArgumentParser) -> None:
    """``--model-config FILE.toml`` and repeatable ``--model-set KEY=VALUE`` (see ``state.settings``)."""
    p.add_argument(
        "--model-config",
        metavar="FILE.toml",
        help="model settings (RecommenderConfig fields) from a TOML file; env STREAMREC_MODEL_CONFIG",
    )
    p.add_argument(
        "--model-set",
        action="append",
        metavar="KEY=VALUE",
        help="one model setting, applied after the file (repeatable), e.g. --model-set lr=0.05",
    )


def check_file(flag: str, path: str, what: str = "a readable file") -> None:
    """``path`` must be an existing regular file."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{flag} {path}: {'not a file' if p.exists() else 'no such file'}; expected {what}")


def check_state_dir(path: str, flag: str = "--state", must_exist: bool = False) -> None:
    """``path`` must be a directory (or, unless ``must_exist``, not exist yet)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {path}: is a file; expected a state directory")
    if must_exist and not p.is_dir():
        raise UsageError(f"{flag} {path}: no such directory; expected a state directory")


def check_policy(flag: str, spec: str) -> None:
    """``spec`` must name an exploration policy."""
    from streamrec.online.policies import make_policy

    try:
        make_policy(spec)
    except ValueError as exc:
        raise UsageError(f"{flag} {spec}: {exc}; allowed: {POLICIES}") from None


def check_arms(policy: str, ab_split: str) -> None:
    """``--policy`` and ``--ab-split`` must build the serving arms."""
    from streamrec.flows.policy_spec import Arms

    check_policy("--policy", policy)
    if ab_split.strip():
        try:
            Arms.parse(policy, ab_split)
        except ValueError as exc:
            raise UsageError(
                f"--ab-split {ab_split}: {exc}; allowed: NAME=POLICY@SHARE,... with shares "
                f"summing to 1 and POLICY one of {POLICIES}"
            ) from None


def check_port(flag: str, port: int, host: str = "0.0.0.0") -> None:
    """``port`` must be free to listen on (0 = off)."""
    from streamrec.shell.broker import port_is_free

    if not 0 <= port <= 65535:
        raise UsageError(f"{flag} {port}: expected a TCP port 1-65535 (0 = off)")
    if port and not port_is_free(port, host):
        raise UsageError(f"{flag} {port}: port {port} is already in use; choose a free port")


def _check_numbers(cfg: RunConfig, workers: int) -> None:
    for flag, value, ok, allowed in (
        ("--k", cfg.k, cfg.k >= 1, ">= 1"),
        ("--n-candidates", cfg.n_candidates, cfg.n_candidates >= 1, ">= 1"),
        ("--batch-size", cfg.batch_size, cfg.batch_size >= 1, ">= 1"),
        ("--snapshot-interval", cfg.snapshot_interval_s, cfg.snapshot_interval_s > 0, "> 0 seconds"),
        ("--reward-window", cfg.reward_window_s, cfg.reward_window_s > 0, "> 0 seconds"),
        ("--workers", workers, workers >= 1, ">= 1"),
    ):
        if not ok:
            raise UsageError(f"{flag} {value}: expected {allowed}")


def check_kafka_config(path: str) -> None:
    """The ``--kafka-config`` properties file must exist and parse."""
    if path:
        check_file("--kafka-config", path, "a key=value properties file")
        try:
            read_properties(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"--kafka-config {path}: {exc}") from None


def check_model_settings(cfg: RunConfig) -> None:
    """The requested model settings must be valid and compatible with the stored state."""
    from streamrec.state.settings import SettingsError
    from streamrec.state.settings_guard import check_state_settings

    try:
        check_state_settings(cfg.state_dir, cfg.model_config, cfg.model_set)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def check_run(cfg: RunConfig, workers: int) -> None:
    """Everything ``streamrec run`` can check without a broker."""
    _check_numbers(cfg, workers)
    check_arms(cfg.policy, cfg.ab_split)
    check_kafka_config(cfg.kafka_config_file)
    check_state_dir(cfg.state_dir)
    check_model_settings(cfg)
    check_port("--metrics-port", cfg.metrics_port, cfg.metrics_host)
