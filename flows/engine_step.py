"""The stateful step of the recommendation flow: parse, learn, rank, explore, join rewards.

One logic instance holds the whole model (the flow keys every Kafka message on
``"model"``), so each Bytewax batch becomes one parse pass, one jitted
``process_batch`` call and one batched slate selection. Per batch, in input
order: bad inputs become dead letters, item metadata is applied, click events
are joined to earlier decisions (rewards), learned, and answered with exactly
one recommendation each; decisions whose reward window has passed (in event
time) are closed with reward 0. The step emits ready ``KafkaSinkMessage``s
(recommendations, rewards, dead letters), encoded with orjson from columns.
Metrics are updated once per batch; stage times go to
:data:`streamrec.flows.profile.CLOCK`.

State and recovery: with recovery on, the model is committed to RocksDB only
when Bytewax snapshots (end of an epoch) and the snapshot carries the epoch
token, so a resume restores RocksDB to exactly the state that matches the
resumed Kafka offsets. The snapshot only captures the epoch's changed bytes and
writes them to a redo file; a background thread writes RocksDB and checkpoints
(:mod:`state.epoch_commit`; the process's exit waits for it). With recovery off,
dirty rows are written every batch.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
from bytewax.connectors.kafka import KafkaSinkMessage
from bytewax.operators import StatefulBatchLogic

from streamrec.contract.config import RunConfig
from streamrec.contract.events import ClickEvent, RecommendationRequest
from streamrec.contract.messages import dumps, rec_id_for, recommendation_record
from streamrec.flows import metrics
from streamrec.flows.join_store import PREFIX as JOIN_PREFIX
from streamrec.flows.join_store import JoinStore, load_join
from streamrec.flows.last_served import LastServed
from streamrec.flows.parse import Arrival, DeadLetter, parse_message
from streamrec.flows.policy_spec import Arms
from streamrec.flows.profile import CLOCK
from streamrec.flows.reward_join import RewardJoiner
from streamrec.flows.slates import serve_slates
from streamrec.online.recommender import Recommender
from streamrec.state.epoch_commit import EpochCommitter
from streamrec.state.epochs import check_token, restore_epoch, start_without_resume
from streamrec.state.settings_guard import config_for_run
from streamrec.state.store import ParamStore
from streamrec.state.versions import current_version

#: when in an epoch (a fraction of the snapshot interval) the rows changed so far start
#: being copied for its commit, in a thread (``EngineLogic._precopy``); earlier when the last
#: epoch's first copy took more than a third of the rest of the epoch, so that it ends before
#: the commit
PRECOPY_AT = 0.9

log = logging.getLogger("streamrec.flow")

Out = KafkaSinkMessage


def quiet_gc() -> None:
    """Keep CPython's cyclic GC off the event path: everything alive after start-up (modules,
    Numba dispatchers, the model) moves to the permanent generation, and collections run
    after 20k container allocations instead of 700, full ones 100x rarer. Measured on the
    engine step at 20k events: full collections of 0.2-0.5 s every few thousand events
    without this, none with it (the reward join's pending decisions are untracked)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


class EngineLogic(StatefulBatchLogic[Any, Out, dict]):
    """Bytewax logic wrapping :class:`online.recommender.Recommender` and the RocksDB store."""

    def __init__(self, cfg: RunConfig, resume_state: dict | None, shard: int = 0):
        self.cfg = cfg
        self.shard = str(shard)  # the ``shard`` label of this engine's metrics
        cfg.model_dir.mkdir(parents=True, exist_ok=True)
        if resume_state is not None:  # before opening: restore swaps the live database
            restore_epoch(cfg.model_dir, resume_state["epoch"])
        elif cfg.recovery and start_without_resume(cfg.model_dir, cfg.recovery_dir):
            log.warning("restarted before the first committed epoch: model rolled back to the run's start")
        # with recovery, every state a restart uses is an epoch checkpoint (or the start-up
        # baseline): the write-ahead log would only double the bytes of each commit. ``diff``:
        # a commit writes only the chunks whose bytes changed (the engine flags whole item rows,
        # 2.7 KB each, for a change of one slot), at the cost of one more copy of the model
        self.store = ParamStore(cfg.model_dir, wal=not cfg.recovery, diff=True)
        state = self.store.load()
        config = config_for_run(state.meta if state is not None else None, cfg.model_config, cfg.model_set)
        self.model = Recommender.from_state(state, config) if state is not None else Recommender(config)
        self.arms = Arms.parse(cfg.policy, cfg.ab_split)
        self.joiner = RewardJoiner(window_s=cfg.reward_window_s)
        self.join_store = JoinStore()  # what is stored is unknown: the first commit rewrites j/
        if resume_state is not None:
            if "joiner" in resume_state:  # a snapshot of a version that kept the join in it
                self.joiner = RewardJoiner.from_dict(resume_state["joiner"])
            else:  # the join state of the restored epoch is in its checkpoint
                stored = load_join(self.store.items(JOIN_PREFIX), cfg.reward_window_s)
                if stored is not None:
                    self.joiner, self.join_store = stored
            self.joiner.window_s = float(cfg.reward_window_s)
            self.arms.restore(resume_state["arms"])
        self.base_version = current_version(cfg.model_dir) or "v0000"
        base_epoch = None
        if resume_state is not None and cfg.recovery:
            # the live DB is the resumed epoch's checkpoint and the store's shadow its arrays as
            # loaded: the model stays all dirty, so the first commit writes what differs from
            # that checkpoint (a delta on it), and nothing is written before
            base_epoch = check_token(resume_state["epoch"])
            log.info("model as of epoch %d: the first commit writes what differs from it", base_epoch)
        else:  # a fresh (or just loaded) model is all dirty: write it now, at start-up
            t = time.perf_counter()
            self._flush()
            log.info("model rows saved at start-up in %.2f s", time.perf_counter() - t)
        # epoch commits: capture + redo file at the snapshot; a worker process then owns the DB.
        # A fresh start checkpoints what it just saved, so that its first commit is a delta too
        self.committer: EpochCommitter | None = None
        self._epoch_t0 = time.monotonic()
        if cfg.recovery:
            t = time.perf_counter()
            fresh = base_epoch is None
            self.committer = EpochCommitter(
                self.store, on_commit=self._state_bytes, base_epoch=base_epoch, checkpoint_start=fresh
            )
            log.info("epoch committer ready in %.2f s%s", time.perf_counter() - t, " (start-up checkpoint)" * fresh)
        quiet_gc()
        self.m = metrics.ShardMetrics(self.shard)
        self.served = LastServed()
        self.index_refreshes = 0
        self.max_ts = float(resume_state.get("max_ts", float("-inf"))) if resume_state else float("-inf")
        self.m(metrics.MODEL_VERSION).info({"version": self.version()})
        metrics.STATUS.ready = True
        log.info(
            "engine ready: %s, version %s, resumed=%s", self.model.stats(), self.base_version, resume_state is not None
        )

    # -- Bytewax hooks ------------------------------------------------------------------
    def on_batch(self, values: list[Any]) -> tuple[Iterable[Out], bool]:
        CLOCK.start()
        out: list[Out] = []
        arrivals = self._parse(values, out)
        run: list[Arrival] = []
        n_clicks, refreshed = 0, False
        for arrival in arrivals:
            if isinstance(arrival.payload, ClickEvent):
                run.append(arrival)
                continue
            refreshed |= self._clicks(run, out)  # in order: the clicks before this arrival first
            n_clicks += len(run)
            run = []
            if isinstance(arrival.payload, RecommendationRequest):
                self._request(arrival, out)
            else:
                self.model.add_item_metadata(arrival.payload.item, arrival.payload.attributes)
                self.m(metrics.EVENTS, "item_metadata").inc()
        refreshed |= self._clicks(run, out)
        n_clicks += len(run)
        self._rewards(self._close_expired(), out)
        if self.cfg.recovery:  # the batch's join entries encoded now, not in the epoch's commit
            self.join_store.encode(self.joiner)
        CLOCK.lap("reward_join")
        if not self.cfg.recovery:
            self._flush()
            CLOCK.lap("commit")
        if n_clicks:
            self._publish(n_clicks, refreshed)
            CLOCK.lap("metrics")
        if self.committer is not None:
            self._precopy()
        CLOCK.flush(n_clicks, refreshed)
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict | None:  # type: ignore[override]  # Bytewax takes None: nothing to keep
        if not self.cfg.recovery:  # rows are saved every batch; Bytewax keeps nothing
            return None
        t = time.perf_counter()
        assert self.committer is not None
        token = self.committer.commit(
            self.model.export_state(copy=False), self.model.dirty_rows(), self.join_store.ops(self.joiner)
        )
        self.model.clear_dirty()
        self._epoch_t0 = time.monotonic()
        # the reward join travels in the epoch's checkpoint (incrementally), not in the snapshot
        state = {"epoch": token, "arms": self.arms.snapshot(), "max_ts": self.max_ts}
        CLOCK.add("commit", time.perf_counter() - t)
        return state

    def _precopy(self) -> None:
        """Late in an epoch (``PRECOPY_AT`` of the snapshot interval), start copying the rows
        changed so far in a thread, and once that is done the rows changed meanwhile (a few
        rounds), so that the epoch's commit, on the event path, copies only what changed
        since the last round started (:meth:`EpochCommitter.precopy`)."""
        assert self.committer is not None
        interval = self.cfg.snapshot_interval_s
        lead = max((1.0 - PRECOPY_AT) * interval, 3.0 * self.committer.timings.get("precopy", 0.0))
        if time.monotonic() - self._epoch_t0 < interval - lead or not self.committer.precopy_ready:
            return
        t = time.perf_counter()
        if self.committer.precopy(self.model.export_state(copy=False), self.model.dirty_rows()):
            self.model.clear_dirty()
            CLOCK.add("precopy", time.perf_counter() - t)

    # -- steps --------------------------------------------------------------------------
    def _parse(self, values: list[Any], out: list[Out]) -> list[Arrival]:
        """Valid arrivals in order; dead letters (bad input, Kafka errors) appended to ``out``."""
        cfg = self.cfg
        arrivals: list[Arrival] = []
        reasons: Counter[str] = Counter()
        for m in values:
            if hasattr(m, "err"):  # a KafkaError from the source
                res: Arrival | DeadLetter = DeadLetter(f"kafka_error: {m.err}", m.msg.value, m.msg.topic)
            else:
                res = parse_message(m, items_topic=cfg.items_topic, user_salt=cfg.hash_user_ids)
            if isinstance(res, Arrival):
                arrivals.append(res)
                continue
            reasons[res.reason.split(":", 1)[0]] += 1
            out.append(KafkaSinkMessage(key=None, value=dumps(res.to_dict()), topic=cfg.dlq_topic))
        for reason, n in reasons.items():
            self.m(metrics.DEAD_LETTERS, reason).inc(n)
        CLOCK.lap("parse")
        return arrivals

    def _clicks(self, run: list[Arrival], out: list[Out]) -> bool:
        """Join, learn, rank, explore and answer a run of clicks; True if the index was rebuilt."""
        if not run:
            return False
        events: list[ClickEvent] = [a.payload for a in run]  # type: ignore[misc]
        on_event, joined = self.joiner.on_event, []
        for ev in events:
            joined += on_event(ev.rec_id, ev.user, ev.item, ev.ts, ev.event_id)
        self._rewards(joined, out)
        CLOCK.lap("reward_join")
        model = self.model
        learned_before, items_before = model.events_learned, model.n_items
        result = model.process_batch(events, n_candidates=self.cfg.n_candidates, rank_before=False)
        refreshed = self._index_refreshed(items_before, model.n_items)
        CLOCK.lap("learn_retrieve_rank")
        users = [ev.user for ev in events]
        ids = [ev.event_id for ev in events]
        sl = serve_slates(self.arms, users, ids, result.cand_idx, result.item_ids, result.cand_scores, self.cfg.k)
        CLOCK.lap("exploration")
        self._answer(run, events, sl, learned_before, out)
        return refreshed

    def _request(self, arrival: Arrival, out: list[Out]) -> None:
        """Answer a recommendation request (rank, explore, one message); nothing is learned."""
        req = arrival.payload
        assert isinstance(req, RecommendationRequest) and req.event_id is not None and req.ts is not None
        ranked = self.model.rank(req.user, req.context, k=self.cfg.n_candidates)
        sl = serve_slates(
            self.arms,
            [req.user],
            [req.event_id],
            np.arange(len(ranked))[None, :],
            [i for i, _ in ranked],
            np.array([[s for _, s in ranked]]),
            self.cfg.k,
        )
        latency = round(time.time() * 1000.0 - arrival.broker_ts_ms, 3) if arrival.broker_ts_ms else 0.0
        rec_id, version, arm = rec_id_for(req.event_id), self.version(), sl.arms[0]
        msg = recommendation_record(
            rec_id,
            req.event_id,
            req.user,
            req.ts,
            sl.items[0],
            sl.scores[0],
            sl.propensities[0],
            sl.policies[0],
            version,
            latency,
            arm if self.arms.is_split else None,
        )
        msg["request_id"] = req.request_id
        out.append(KafkaSinkMessage(key=req.user.encode(), value=dumps(msg), topic=self.cfg.out_topic))
        self.served.serve(req.user, sl.items[0])
        self.joiner.record_decision(
            rec_id,
            req.user,
            req.ts,
            sl.items[0],
            sl.propensities[0],
            sl.policies[0],
            version,
            arm,
            req.context,
            scores=sl.scores[0],
            typed=True,
        )
        metrics.STATUS.add_recommendations([msg])
        self.m(metrics.EVENTS, "request").inc()
        self.m(metrics.RECOMMENDATIONS, arm).inc()
        if arrival.broker_ts_ms:
            self.m(metrics.LATENCY).observe(max(latency, 0.0) / 1000.0)

    def _answer(self, run, events, sl, learned_before: int, out: list[Out]) -> None:
        """One recommendation message per event; decisions remembered for the reward join."""
        now_ms = time.time() * 1000.0
        base, split, topic = self.base_version, self.arms.is_split, self.cfg.out_topic
        served, record = self.served, self.joiner.record_decision
        latencies = np.fromiter(
            (now_ms - a.broker_ts_ms if a.broker_ts_ms else -1.0 for a in run), np.float64, len(run)
        )
        # no broker timestamp: the message carries the processing time of the batch so far
        own_ms = (time.perf_counter() - CLOCK.batch_t0) * 1000.0
        lat_r = np.round(np.where(latencies >= 0.0, latencies, own_ms), 3).tolist()
        decisions, newest_msgs, newest = [], [], len(events) - 10  # the status page shows the newest few
        for i, ev in enumerate(events):
            items = sl.items[i]
            if ev.is_positive:
                served.check(ev.user, ev.item)
            served.serve(ev.user, items)
            rec_id = rec_id_for(ev.event_id)
            version = f"{base}+{learned_before + i + 1}"
            arm = sl.arms[i]
            msg = recommendation_record(
                rec_id,
                ev.event_id,
                ev.user,
                ev.ts,
                items,
                sl.scores[i],
                sl.propensities[i],
                sl.policies[i],
                version,
                lat_r[i],
                arm if split else None,
            )
            out.append(KafkaSinkMessage(key=ev.user.encode(), value=dumps(msg), topic=topic))
            decisions.append((rec_id, ev, version, arm))
            if i >= newest:
                newest_msgs.append(msg)
            self.max_ts = max(self.max_ts, ev.ts)
        metrics.STATUS.add_recommendations(newest_msgs)
        CLOCK.lap("encode")
        for i, (rec_id, ev, version, arm) in enumerate(decisions):
            record(
                rec_id,
                ev.user,
                ev.ts,
                sl.items[i],
                sl.propensities[i],
                sl.policies[i],
                version,
                arm,
                ev.context,
                scores=sl.scores[i],
                typed=True,
            )
        CLOCK.lap("reward_join")
        metrics.observe_many(self.m(metrics.LATENCY), latencies[latencies >= 0.0] / 1000.0)
        for arm in set(sl.arms):
            self.m(metrics.RECOMMENDATIONS, arm).inc(sl.arms.count(arm))

    def _index_refreshed(self, items_before: int, items_after: int) -> bool:
        """Whether this batch seeded the retrieval index (the catalog crossed
        ``full_rank_threshold``); after that the engine keeps the index up in small steps on
        every event and never rebuilds it."""
        thr = self.model.config.full_rank_threshold
        if items_before <= thr < items_after:
            self.index_refreshes += 1
            return True
        return False

    def _rewards(self, records: list[dict], out: list[Out]) -> None:
        if not records:
            return
        topic, clicks = self.cfg.rewards_topic, 0
        learn = self.arms.learn_reward if self.arms.learns else None
        for rec in records:
            if learn is not None:
                learn(rec)
            clicks += bool(rec["reward"])
            out.append(KafkaSinkMessage(key=rec["user"].encode(), value=dumps(rec), topic=topic))
        if clicks:
            self.m(metrics.REWARDS, "click").inc(clicks)
        if len(records) > clicks:
            self.m(metrics.REWARDS, "no_click").inc(len(records) - clicks)

    def _close_expired(self) -> list[dict]:
        if self.max_ts == float("-inf"):
            return []
        return self.joiner.expire(self.max_ts)

    def _state_bytes(self, _epoch: int) -> None:
        """After a background commit: the store's size gauge (files may vanish while listed)."""
        try:
            self.m(metrics.STATE_BYTES).set(self.store.size_bytes())
        except OSError:
            pass

    def _flush(self) -> None:
        self.store.save(self.model.export_state(copy=False), self.model.dirty_rows())
        self.model.clear_dirty()
        self.joiner.touched.clear()  # without recovery the join state is not persisted

    def version(self) -> str:
        """``VERSION+N``: the base version and the number of events learned in the model's life."""
        return f"{self.base_version}+{self.model.events_learned}"

    def _publish(self, n_clicks: int, refreshed: bool) -> None:
        """Metrics once per batch."""
        elapsed, m, model = time.perf_counter() - CLOCK.batch_t0, self.m, self.model
        m(metrics.EVENTS, "click").inc(n_clicks)
        m(metrics.PROCESSING).observe(elapsed / n_clicks)
        m(metrics.EVENTS_PER_SECOND).set(n_clicks / max(elapsed, 1e-9))
        if refreshed:
            m(metrics.INDEX_REFRESHES).inc()
        m(metrics.HIT_RATE).set(self.served.rate)
        m(metrics.LOSS).set(model.mean_loss)
        m(metrics.DRIFT).set(1.0 if model.drift.drift_detected else 0.0)
        m(metrics.DRIFTS).set(model.drift.n_detections)
        m(metrics.MODEL_VERSION).info({"version": self.version()})
        for name, value in self.joiner.counters.items():
            m(metrics.JOIN, name).set(value)
