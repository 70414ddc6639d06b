"""Join later click events to earlier recommendation decisions (rewards), pure Python.

``record_decision`` stores a shown slate. ``on_event`` joins a later event to
it: by ``rec_id`` when the event carries one, else to the most recent pending
decision of the same user that showed the clicked item, within ``window_s``
seconds of event time. Each join yields one reward record (reward 1, the
clicked item and its slot). ``expire(now_ts)`` closes decisions whose window
has passed and yields a reward-0 record for each that got no click, so a
learner can use shown-not-clicked slates as negatives.

The fallback first asks a per-user superset of the items shown in the user's listed
decisions (``shown``: updated when a slate is recorded, rebuilt once stale items make it
twice the size of the live slates): a click on an item the user was not shown -- most
clicks -- is unmatched without scanning the decisions, whose dicts and item strings are
cold in memory by then (``bench/reward_join.py``: on_event 3.8 against 11.7 µs per event
for the scan, recording 3 µs more for the upkeep, in the same run).

Late clicks (after the window, or on an already-closed decision), duplicates
(an event_id seen before, or the same item of the same decision again), clicks
on items not in the slate and unmatched events are dropped and counted in
``counters``. State is bounded (``max_pending`` decisions, oldest evicted;
``max_remembered`` closed rec_ids / event ids) and round-trips through
``to_dict`` / ``from_dict`` as plain JSON-able data. A pending decision holds strings,
floats, tuples of them and a copy of the context (a dict of scalars, which CPython's
garbage collector does not track); the decision dict itself is tracked, as it holds a dict.

>>> from streamrec.flows.reward_join import RewardJoiner
>>> j = RewardJoiner(window_s=60)
>>> j.record_decision("r1", "u1", 100.0, ["a", "b"], [0.9, 0.1], "egreedy:0.1", "v1", "A", {})
>>> [(r["clicked_item"], r["position"], r["reward"]) for r in j.on_event("r1", "u1", "b", 110.0, "e2")]
[('b', 1, 1.0)]
>>> j.on_event("r1", "u1", "b", 111.0, "e3"), j.counters["duplicate"]
([], 1)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

RewardRecord = dict[str, Any]
_TUPLES = ("items", "propensities", "scores", "clicked")

COUNTERS = (
    "decisions",
    "joined_rec_id",
    "joined_fallback",
    "late",
    "duplicate",
    "not_in_slate",
    "unmatched",
    "expired_no_click",
    "evicted",
)


class RewardJoiner:
    """Bounded decision buffer that turns later events into reward records."""

    def __init__(
        self,
        window_s: float = 1800.0,
        max_pending: int = 100_000,
        max_remembered: int = 200_000,
        max_per_user: int = 16,
    ):
        if not window_s > 0:
            raise ValueError("window_s must be > 0")
        self.window_s = float(window_s)
        self.max_pending = int(max_pending)
        self.max_remembered = int(max_remembered)
        self.max_per_user = int(max_per_user)
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.by_user: dict[str, list[str]] = {}
        # per user, a superset of the items shown in ``by_user[user]``'s decisions (items of
        # closed ones stay until it is rebuilt at twice the size of the live slates): a click on an
        # item not in it cannot join by the fallback and skips the scan (derived, not stored)
        self.shown: dict[str, set[str]] = {}
        self.closed: OrderedDict[str, None] = OrderedDict()
        self.seen_events: OrderedDict[str, None] = OrderedDict()
        self.counters: dict[str, int] = {c: 0 for c in COUNTERS}
        # the three collections are FIFO queues (appended at the back, dropped at the front):
        # ``seq[q] = [seq of the front entry, seq of the next entry]`` and the pending decisions
        # clicked since the last :meth:`take_touched` let a store persist only what changed
        self.seq: dict[str, list[int]] = {"p": [0, 0], "c": [0, 0], "s": [0, 0]}
        self.touched: set[str] = set()

    # -- input ---------------------------------------------------------------------------
    def record_decision(
        self,
        rec_id: str,
        user: str,
        ts: float,
        slate_items: Sequence[str],
        propensities: Sequence[float],
        policy: str,
        model_version: str,
        arm: str | None = None,
        context: Mapping[str, Any] | None = None,
        scores: Sequence[float] | None = None,
        typed: bool = False,
    ) -> None:
        """Remember a shown slate until its reward window passes. ``typed``: the caller vouches
        that the items are ``str`` and the propensities and scores ``float`` (the flow's slates
        are), so they are not converted one by one."""
        if rec_id in self.pending:
            self.counters["duplicate"] += 1
            return
        items = tuple(slate_items) if typed else tuple(map(str, slate_items))
        d = {
            "rec_id": rec_id,
            "user": user,
            "ts": float(ts),
            "items": items,
            "propensities": tuple(propensities) if typed else tuple(map(float, propensities)),
            "policy": policy,
            "model_version": model_version,
            "arm": arm,
            "context": dict(context or {}),
            "clicked": (),
            "seq": self.seq["p"][1],
        }
        if scores is not None:
            d["scores"] = tuple(scores) if typed else tuple(map(float, scores))
        self.pending[rec_id] = d
        self.seq["p"][1] += 1
        ids = self.by_user.setdefault(user, [])
        ids.append(rec_id)
        if len(ids) > self.max_per_user:
            del ids[0]
        shown = self.shown.get(user)
        if shown is None or len(shown) > 2 * len(ids) * max(len(items), 1):  # stale items pile up
            self._index_shown(user)
        else:
            shown.update(items)
        self.counters["decisions"] += 1
        while len(self.pending) > self.max_pending:
            old_id, old = self.pending.popitem(last=False)
            self.seq["p"][0] += 1
            self._forget(old_id, old)
            self.counters["evicted"] += 1

    def on_event(self, rec_id: str | None, user: str, item: str, ts: float, event_id: str) -> list[RewardRecord]:
        """Join one event; returns [] or one reward record."""
        if event_id in self.seen_events:
            self.counters["duplicate"] += 1
            return []
        self._remember("s", self.seen_events, event_id)
        item = str(item)
        if rec_id is not None:
            d = self.pending.get(rec_id)
            if d is None:
                self.counters["late" if rec_id in self.closed else "unmatched"] += 1
                return []
            return self._join(d, item, ts, event_id, "joined_rec_id")
        shown = self.shown.get(user)
        if shown is None and user in self.by_user:  # restored: index on first use
            shown = self._index_shown(user)
        if shown is None or item not in shown:
            self.counters["unmatched"] += 1
            return []
        for rid in reversed(self.by_user[user]):
            d = self.pending.get(rid)
            if d is not None and item in d["items"] and 0.0 <= ts - d["ts"] <= self.window_s:
                return self._join(d, item, ts, event_id, "joined_fallback")
        self.counters["unmatched"] += 1
        return []

    def expire(self, now_ts: float) -> list[RewardRecord]:
        """Close decisions older than the window (in insertion order); reward-0 records for unclicked ones."""
        out = []
        while self.pending:
            rid, d = next(iter(self.pending.items()))
            if d["ts"] + self.window_s >= now_ts:
                break
            self.pending.popitem(last=False)
            self.seq["p"][0] += 1
            self._forget(rid, d)
            if not d["clicked"]:
                self.counters["expired_no_click"] += 1
                out.append(self._record(d, None, None, 0.0, None, None))
        return out

    # -- helpers ---------------------------------------------------------------------------
    def _join(self, d: dict, item: str, ts: float, event_id: str, how: str) -> list[RewardRecord]:
        if ts - d["ts"] > self.window_s:
            self.counters["late"] += 1
            return []
        if item not in d["items"]:
            self.counters["not_in_slate"] += 1
            return []
        if item in d["clicked"]:
            self.counters["duplicate"] += 1
            return []
        d["clicked"] = (*d["clicked"], item)
        self.touched.add(d["rec_id"])
        self.counters[how] += 1
        pos = d["items"].index(item)
        return [self._record(d, item, pos, 1.0, max(ts - d["ts"], 0.0), event_id)]

    @staticmethod
    def _record(
        d: dict, item: str | None, pos: int | None, reward: float, latency: float | None, event_id: str | None
    ) -> RewardRecord:
        rec = {
            "rec_id": d["rec_id"],
            "user": d["user"],
            "context": d["context"],
            "slate": {"items": list(d["items"]), "propensities": list(d["propensities"])},
            "policy": d["policy"],
            "arm": d["arm"],
            "model_version": d["model_version"],
            "clicked_item": item,
            "position": pos,
            "reward": reward,
            "reward_latency_s": latency,
            "decision_ts": d["ts"],
            "event_id": event_id,
        }
        if "scores" in d:
            rec["slate"]["scores"] = list(d["scores"])
        return rec

    def _index_shown(self, user: str) -> set[str]:
        """Rebuild ``shown[user]`` exactly from the user's listed decisions."""
        pending, shown = self.pending, set()
        for rid in self.by_user[user]:
            shown.update(pending[rid]["items"])
        self.shown[user] = shown
        return shown

    def _forget(self, rid: str, d: dict) -> None:
        ids = self.by_user.get(d["user"])
        if ids is not None:
            if rid in ids:
                ids.remove(rid)
            if not ids:
                del self.by_user[d["user"]]
                self.shown.pop(d["user"], None)
        self._remember("c", self.closed, rid)

    def _remember(self, q: str, store: OrderedDict, key: str) -> None:
        if key in store:
            return
        store[key] = None
        self.seq[q][1] += 1
        if len(store) > self.max_remembered:
            store.popitem(last=False)
            self.seq[q][0] += 1

    # -- snapshots ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able state."""
        return {
            "window_s": self.window_s,
            "max_pending": self.max_pending,
            "max_remembered": self.max_remembered,
            "max_per_user": self.max_per_user,
            "pending": list(self.pending.values()),
            "closed": list(self.closed),
            "seen_events": list(self.seen_events),
            "counters": dict(self.counters),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RewardJoiner:
        """Inverse of :meth:`to_dict`."""
        j = cls(data["window_s"], data["max_pending"], data["max_remembered"], data.get("max_per_user", 16))
        for d in data["pending"]:
            d = dict(d)
            for key in _TUPLES:
                if key in d:
                    d[key] = tuple(d[key])
            d["seq"] = j.seq["p"][1]
            j.seq["p"][1] += 1
            j.pending[d["rec_id"]] = d
            j.by_user.setdefault(d["user"], []).append(d["rec_id"])
        j.closed = OrderedDict.fromkeys(data["closed"])
        j.seen_events = OrderedDict.fromkeys(data["seen_events"])
        j.seq["c"][1], j.seq["s"][1] = len(j.closed), len(j.seen_events)
        j.counters.update(data["counters"])
        return j
