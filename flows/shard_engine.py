"""The stateful step of one shard: its own engine, plus the delta exchange with the others.

A shard key's values are ``(shard, message)`` pairs: click events, requests and item
metadata of its users (``flows.shard_routing``) and every delta on the deltas topic. Per
batch: deltas are decoded and merged first (through :class:`flows.delta_inbox.DeltaInbox`
and ``ShardSync``, so each ``(origin, run, seq)`` once), then the events go through the
unsharded :class:`flows.engine_step.EngineLogic` (its own state directory
``STATE/shard-<s>``), then, after ``sync_every`` local events, the shard emits its delta to
the deltas topic (message key: the origin). A delta is also emitted at every snapshot
(end of an epoch; sent by the next batch or timer), so the committed model equals what was sent: the snapshot keeps that
delta's bytes and it is sent again after a resume (receivers skip a copy). The snapshot
also keeps the next ``seq``, the merge cursor and the held deltas.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bytewax.connectors.kafka import KafkaSinkMessage
from bytewax.operators import StatefulBatchLogic

from streamrec.contract.config import RunConfig
from streamrec.flows.delta_inbox import DeltaInbox
from streamrec.flows.profile import CLOCK
from streamrec.online.delta_codec import decode_delta, encode_delta
from streamrec.online.shard_sync import ShardSync

log = logging.getLogger("streamrec.flow")


def shard_config(cfg: RunConfig, shard: int) -> RunConfig:
    """``cfg`` for shard ``shard``: its model under ``STATE/shard-<s>``, its start-up baseline
    under the recovery directory (so resetting recovery resets it)."""
    return replace(
        cfg,
        state_dir=str(Path(cfg.state_dir) / f"shard-{shard}"),
        recovery_dir_override=str(cfg.recovery_dir / f"shard-{shard}"),
    )


class ShardLogic(StatefulBatchLogic[Any, Any, dict]):
    """One shard's engine and delta exchange (see the module docstring)."""

    def __init__(self, cfg: RunConfig, run: str, resume_state: dict | None) -> None:
        self.cfg, self.run = cfg, run
        self.resume = resume_state
        self.engine: Any = None
        if resume_state is not None:
            self._build(int(resume_state["shard"]["index"]))

    def _build(self, shard: int) -> None:
        from streamrec.flows.engine_step import EngineLogic  # loads the numba kernels

        resume = self.resume
        self.shard = shard
        self.engine = EngineLogic(shard_config(self.cfg, shard), resume, shard=shard)
        self.sync = ShardSync(self.engine.model, shard, self.run)
        mine = (resume or {}).get("shard", {})
        self.inbox = DeltaInbox(self.run, resume is not None, mine.get("held"))
        if resume is not None:
            self.sync.restore_cursor(mine["cursor"], mine["seq"])
        # the delta of the resumed epoch (a receiver skips a copy it merged), then an
        # announcement of this run, so receivers release what they hold
        self.outbox: list[bytes] = list(mine.get("unsent", []))
        self.outbox.append(self._emit())
        self.meta_changed = False
        cfg = self.engine.model.config
        self.shape = (cfg.k, cfg.n_buckets, cfg.max_item_features)

    # -- Bytewax hooks ------------------------------------------------------------------
    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        if self.engine is None:
            self._build(int(values[0][0]))
        topic = self.cfg.deltas_topic
        events, n_deltas = [], 0
        t = time.perf_counter()
        for _, m in values:
            if getattr(m, "topic", None) == topic:
                self._merge(m.value)
                n_deltas += 1
            else:
                events.append(m)
                self.meta_changed |= getattr(m, "topic", None) == self.cfg.items_topic
        CLOCK.add("delta_merge", time.perf_counter() - t)
        out = self._flush_outbox()
        if events:
            emitted, _ = self.engine.on_batch(events)
            out.extend(emitted)
        elif n_deltas and not self.cfg.recovery:
            self.engine._flush()  # merged rows are saved every batch, as learned ones are
        if self.sync.pending_events() >= self.cfg.sync_every:
            out.append(self._message(self._emit()))
        return out, StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[list[Any], bool]:
        """Send what the last snapshot emitted (or the start-up announcement) without waiting
        for the next batch; without recovery (no snapshots) emit here once per interval."""
        if self.engine is None:
            return [], StatefulBatchLogic.RETAIN
        if not self.cfg.recovery and (self.sync.pending_events() > 0 or self.meta_changed):
            self.outbox.append(self._emit())
        return self._flush_outbox(), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if self.engine is None:
            return None
        wait = 0.0 if self.outbox else self.cfg.snapshot_interval_s / 2
        return datetime.now(UTC) + timedelta(seconds=wait)

    def snapshot(self) -> dict | None:  # type: ignore[override]
        if self.engine is None or not self.cfg.recovery:
            return None
        if self.sync.pending_events() > 0 or self.meta_changed:
            self.outbox.append(self._emit())
        state = self.engine.snapshot()
        state["shard"] = {
            "index": self.shard,
            "seq": self.sync.seq,
            "cursor": self.sync.cursor(),
            "unsent": list(self.outbox),
            "held": self.inbox.snapshot(),
        }
        return state

    # -- steps --------------------------------------------------------------------------
    def _merge(self, payload: bytes) -> None:
        """Merge a delta from the topic (held, skipped or dropped per ``DeltaInbox``)."""
        try:
            d = decode_delta(payload, *self.shape)
        except ValueError as exc:
            log.warning("shard %d: delta dropped: %s", self.shard, exc)
            return
        if d.origin == self.shard:
            return
        for p in self.inbox.offer(d.origin, d.run, d.seq, payload):
            try:
                self.sync.merge(d if p is payload else decode_delta(p, *self.shape))
            except ValueError as exc:  # checked before any state changed
                log.warning("shard %d: delta not merged: %s", self.shard, exc)

    def _emit(self) -> bytes:
        """The bytes of this shard's next delta (its stage time: ``delta_emit``)."""
        t = time.perf_counter()
        payload = encode_delta(self.sync.emit())
        self.meta_changed = False
        CLOCK.add("delta_emit", time.perf_counter() - t)
        return payload

    def _message(self, payload: bytes) -> KafkaSinkMessage:
        return KafkaSinkMessage(key=str(self.shard).encode(), value=payload, topic=self.cfg.deltas_topic)

    def _flush_outbox(self) -> list[Any]:
        out = [self._message(p) for p in self.outbox]  # empty ones too: no gaps in ``seq``
        self.outbox = []
        return out
