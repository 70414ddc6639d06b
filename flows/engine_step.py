"""The stateful step of the recommendation flow: learn, rank, explore, join rewards.

One logic instance holds the whole model (the flow keys every event on
``"model"``), so each Bytewax batch becomes one jitted ``process_batch`` call.
Per batch, in input order: item metadata is applied, click events are joined to
earlier decisions (rewards), learned, and answered with exactly one
recommendation each; decisions whose reward window has passed (in event time)
are closed with reward 0.

State and recovery: with recovery on, the model is committed to RocksDB only
when Bytewax snapshots (end of an epoch) and the snapshot carries the epoch
token, so a resume restores RocksDB to exactly the state that matches the
resumed Kafka offsets. With recovery off, dirty rows are written every batch.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable

from bytewax.operators import StatefulBatchLogic

from streamrec.flows import metrics
from streamrec.flows.parse import Arrival
from streamrec.flows.policy_spec import Arms
from streamrec.flows.reward_join import RewardJoiner
from streamrec.online.recommender import Recommender
from streamrec.state.settings_guard import config_for_run
from streamrec.state.epochs import commit_epoch, restore_epoch, start_without_resume
from streamrec.state.store import ParamStore
from streamrec.state.versions import current_version
from streamrec.contract.config import RunConfig
from streamrec.contract.events import ClickEvent, ItemMetadata
from streamrec.contract.messages import rec_id_for, recommendation_message, stable_seed

log = logging.getLogger("streamrec.flow")

Out = tuple[str, str, dict[str, Any]]  # (kind, key, json-ready value); kind in rec|reward


class EngineLogic(StatefulBatchLogic[Arrival, Out, dict]):
    """Bytewax logic wrapping :class:`online.recommender.Recommender` and the RocksDB store."""

    def __init__(self, cfg: RunConfig, resume_state: dict | None):
        self.cfg = cfg
        cfg.model_dir.mkdir(parents=True, exist_ok=True)
        if resume_state is not None:  # before opening: restore swaps the live database
            restore_epoch(cfg.model_dir, resume_state["epoch"])
        elif cfg.recovery and start_without_resume(cfg.model_dir, cfg.recovery_dir):
            log.warning("restarted before the first committed epoch: model rolled back to the run's start")
        self.store = ParamStore(cfg.model_dir)
        state = self.store.load()
        config = config_for_run(state.meta if state is not None else None, cfg.model_config, cfg.model_set)
        self.model = Recommender.from_state(state, config) if state is not None else Recommender(config)
        self.arms = Arms.parse(cfg.policy, cfg.ab_split)
        self.joiner = RewardJoiner(window_s=cfg.reward_window_s)
        if resume_state is not None:
            self.joiner = RewardJoiner.from_dict(resume_state["joiner"])
            self.joiner.window_s = float(cfg.reward_window_s)
            self.arms.restore(resume_state["arms"])
        self.base_version = current_version(cfg.model_dir) or "v0000"
        self._rec_counters = {name: metrics.RECOMMENDATIONS.labels(name) for name in self.arms.policies}
        self.max_ts = float(resume_state.get("max_ts", float("-inf"))) if resume_state else float("-inf")
        metrics.MODEL_VERSION.info({"version": self.base_version})
        log.info("engine ready: %s, version %s, resumed=%s", self.model.stats(), self.base_version,
                 resume_state is not None)

    # -- Bytewax hooks ------------------------------------------------------------------
    def on_batch(self, values: list[Arrival]) -> tuple[Iterable[Out], bool]:
        out: list[Out] = []
        run: list[Arrival] = []
        for arrival in values:
            if isinstance(arrival.payload, ItemMetadata):
                out.extend(self._clicks(run))
                run = []
                self.model.add_item_metadata(arrival.payload.item, arrival.payload.attributes)
                metrics.EVENTS.labels("item_metadata").inc()
            else:
                run.append(arrival)
        out.extend(self._clicks(run))
        out.extend(self._close_expired())
        if not self.cfg.recovery:
            self._flush()
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict | None:
        if not self.cfg.recovery:  # rows are saved every batch; Bytewax keeps nothing
            return None
        token = commit_epoch(self.store, self.model.export_state(copy=False), self.model.dirty_rows())
        self.model.clear_dirty()
        metrics.STATE_BYTES.set(self.store.size_bytes())
        return {"epoch": token, "joiner": self.joiner.to_dict(), "arms": self.arms.snapshot(),
                "max_ts": self.max_ts}

    # -- steps --------------------------------------------------------------------------
    def _clicks(self, run: list[Arrival]) -> list[Out]:
        if not run:
            return []
        t0 = time.perf_counter()
        events: list[ClickEvent] = [a.payload for a in run]  # type: ignore[misc]
        out: list[Out] = []
        for ev in events:
            out.extend(self._rewards(self.joiner.on_event(ev.rec_id, ev.user, ev.item, ev.ts, ev.event_id)))
        # rank_before: the model's prequential rank of each click, for the online hit rate and drift
        result = self.model.process_batch(events, n_candidates=self.cfg.n_candidates, rank_before=True)
        learned_before = self.model.stats()["events_learned"] - len(events)
        for i, (ev, arrival) in enumerate(zip(events, run)):
            arm_name, policy = self.arms.for_user(ev.user)
            slate = policy.select(result.cand_items[i], result.cand_scores[i], self.cfg.k,
                                  seed=stable_seed(ev.event_id), context=ev.context)
            items = [(str(it), float(s), float(p))
                     for it, s, p in zip(slate.items, slate.scores, slate.propensities)]
            now_ms = time.time() * 1000.0
            latency_ms = now_ms - arrival.broker_ts_ms if arrival.broker_ts_ms else (
                (time.perf_counter() - t0) * 1000.0)
            version = f"{self.base_version}+{learned_before + i + 1}"
            msg = recommendation_message(ev, items, policy.name, version, latency_ms,
                                         arm=arm_name if self.arms.is_split else None)
            self.joiner.record_decision(
                rec_id_for(ev.event_id), ev.user, ev.ts, [i for i, _, _ in items],
                [p for _, _, p in items], policy.name, version, arm_name, dict(ev.context),
                scores=[s for _, s, _ in items])
            out.append(("rec", ev.user, msg))
            self._rec_counters[arm_name].inc()
            if arrival.broker_ts_ms:
                metrics.LATENCY.observe(max(latency_ms, 0.0) / 1000.0)
            self.max_ts = max(self.max_ts, ev.ts)
        elapsed = time.perf_counter() - t0
        metrics.EVENTS.labels("click").inc(len(events))
        metrics.PROCESSING.observe(elapsed / len(events))
        metrics.EVENTS_PER_SECOND.set(len(events) / max(elapsed, 1e-9))
        self._publish_model_stats()
        return out

    def _rewards(self, records: list[dict]) -> list[Out]:
        out = []
        for rec in records:
            self.arms.learn_reward(rec)
            metrics.REWARDS.labels("click" if rec.get("reward") else "no_click").inc()
            out.append(("reward", rec["user"], rec))
        return out

    def _close_expired(self) -> list[Out]:
        if self.max_ts == float("-inf"):
            return []
        return self._rewards(self.joiner.expire(self.max_ts))

    def _flush(self) -> None:
        self.store.save(self.model.export_state(copy=False), self.model.dirty_rows())
        self.model.clear_dirty()

    def _publish_model_stats(self) -> None:
        stats = self.model.stats()
        metrics.HIT_RATE.set(stats["online_hit_rate"])
        metrics.LOSS.set(stats["mean_loss"])
        metrics.DRIFT.set(1.0 if stats["drift_detected"] else 0.0)
        metrics.DRIFTS.set(stats["drift_count"])
        for name, value in self.joiner.counters.items():
            metrics.JOIN.labels(name).set(value)
