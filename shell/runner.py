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


def run_flow(cfg: RunConfig, workers: int = 1) -> None:
    """Build and run the flow until it is interrupted (tail mode never ends by itself)."""
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
