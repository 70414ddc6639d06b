"""Prequential ("test, then learn") replay of an event log against several models.

Protocol (``/work/shared/PROTOCOL.md``): events in event-time order; event ``t`` is
evaluated when ``t % stride == 0`` and it is a positive interaction; the model ranks
for ``events[t].user`` every item observed in events ``0..t-1`` minus the items that
user already had, reports the 1-based rank of ``events[t].item`` (0 = miss), and
only then learns event ``t``. "Warm" events are those whose user had an earlier event.

Models implement :class:`PrequentialModel`; they receive the stream in chunks, in
order. A model with a ``max_events`` attribute (slow ones) is only fed the first
``max_events`` events; its figures cover that prefix (``ModelResult.n_events``) and
:meth:`ReplayResult.on_prefix` gives every model's figures on the same prefix.

>>> from streamrec.replay.baselines import Popularity
>>> from streamrec.contract.events import ClickEvent
>>> ev = [ClickEvent(str(n), 1.7e9 + n, f"u{n % 3}", f"i{n % 4}") for n in range(24)]
>>> r = run_prequential(ev, [Popularity()], stride=1)
>>> r.models["popularity"].all.n, r.models["popularity"].n_events
(24, 24)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from streamrec.replay.metrics import RankSummary, hits, summarize


class PrequentialModel(Protocol):
    """For each event in order: rank (if ``evaluate[i]``) before learning, then learn."""

    name: str

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray: ...


@dataclass
class ChunkPoint:
    """One point of the per-chunk time series of a model."""

    end: int  # events replayed so far (exclusive end index of the chunk)
    ts: float  # event time of the chunk's last event
    n_eval: int
    hr: float  # HR@k over this chunk's evaluated events
    cum_hr: float  # HR@k over all evaluated events so far
    events_per_s: float


@dataclass
class ModelResult:
    """Figures of one model in one replay."""

    name: str
    n_events: int  # events fed to the model (a prefix of the stream when subsampled)
    seconds: float  # wall time spent inside the model
    all: RankSummary
    warm: RankSummary
    ranks: np.ndarray  # int32 per event of the prefix, 0 = miss or not evaluated
    series: list[ChunkPoint] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.n_events / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_events": self.n_events,
            "seconds": self.seconds,
            "events_per_s": self.events_per_s,
            "all": self.all.to_dict(),
            "warm": self.warm.to_dict(),
            "series": [vars(p) for p in self.series],
        }


@dataclass
class ReplayResult:
    """All models of one replay plus the evaluation masks they shared."""

    n_events: int
    stride: int
    k: int
    evaluate: np.ndarray
    warm: np.ndarray
    models: dict[str, ModelResult]

    def on_prefix(self, n_events: int) -> dict[str, tuple[RankSummary, RankSummary]]:
        """(all, warm) summaries of every model restricted to the first ``n_events`` events."""
        return self.on_range(0, n_events)

    def on_range(self, lo: int, hi: int) -> dict[str, tuple[RankSummary, RankSummary]]:
        """(all, warm) summaries of every model on events ``lo..hi-1`` (models that replayed
        only a prefix are cut to it; an empty range gives n = 0)."""
        out = {}
        for name, m in self.models.items():
            a, b = max(lo, 0), max(min(hi, m.n_events), max(lo, 0))
            ev = self.evaluate[a:b]
            wm = ev & self.warm[a:b]
            out[name] = (summarize(m.ranks[a:b][ev], self.k), summarize(m.ranks[a:b][wm], self.k))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_events": self.n_events,
            "stride": self.stride,
            "k": self.k,
            "n_evaluated": int(self.evaluate.sum()),
            "n_warm": int((self.evaluate & self.warm).sum()),
            "models": {n: m.to_dict() for n, m in self.models.items()},
        }


def eval_mask(events: Sequence[Any], stride: int = 1) -> np.ndarray:
    """True for events with index % stride == 0 that are positive interactions."""
    n = len(events)
    pos = np.fromiter((bool(getattr(e, "is_positive", True)) for e in events), np.bool_, n)
    return (np.arange(n) % max(int(stride), 1) == 0) & pos


def warm_mask(events: Sequence[Any]) -> np.ndarray:
    """True for events whose user had at least one earlier event."""
    seen: set[str] = set()
    out = np.zeros(len(events), dtype=np.bool_)
    for t, e in enumerate(events):
        out[t] = e.user in seen
        seen.add(e.user)
    return out


def run_prequential(
    events: Sequence[Any],
    models: Sequence[PrequentialModel],
    stride: int = 1,
    chunk: int = 5000,
    k: int = 10,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay ``events`` (already in event-time order) through every model, chunk by chunk.

    Chunks are interleaved across models so that all of them see the same machine load
    over time; each model's clock only runs inside its own ``evaluate_and_learn``.
    ``progress(n)`` is called with the events of each model-chunk done.
    """
    n = len(events)
    chunk = max(int(chunk), 1)
    evaluate, warm = eval_mask(events, stride), warm_mask(events)
    limits = {m.name: min(n, int(getattr(m, "max_events", None) or n)) for m in models}
    if len(limits) != len(models):
        raise ValueError("model names must be unique")
    ranks = {m.name: np.zeros(limits[m.name], dtype=np.int32) for m in models}
    seconds = {m.name: 0.0 for m in models}
    series: dict[str, list[ChunkPoint]] = {m.name: [] for m in models}
    for lo in range(0, n, chunk):
        for m in models:
            hi = min(lo + chunk, limits[m.name])
            if hi <= lo:
                continue
            t0 = time.perf_counter()
            r = m.evaluate_and_learn(events[lo:hi], evaluate[lo:hi])
            dt = time.perf_counter() - t0
            r = np.asarray(r, dtype=np.int32)
            if r.shape != (hi - lo,):
                raise ValueError(f"{m.name} returned {r.shape} ranks for {hi - lo} events")
            ranks[m.name][lo:hi] = np.where(evaluate[lo:hi], r, 0)
            seconds[m.name] += dt
            if progress is not None:
                progress(hi - lo)
            ev = evaluate[lo:hi]
            ev_all = evaluate[:hi]
            series[m.name].append(
                ChunkPoint(
                    end=hi,
                    ts=float(events[hi - 1].ts),
                    n_eval=int(ev.sum()),
                    hr=float(hits(r[ev], k).mean()) if ev.any() else 0.0,
                    cum_hr=float(hits(ranks[m.name][:hi][ev_all], k).mean()) if ev_all.any() else 0.0,
                    events_per_s=(hi - lo) / dt if dt > 0 else float("inf"),
                )
            )
    results = {}
    for m in models:
        lim, rk = limits[m.name], ranks[m.name]
        ev, wm = evaluate[:lim], evaluate[:lim] & warm[:lim]
        results[m.name] = ModelResult(
            name=m.name,
            n_events=lim,
            seconds=seconds[m.name],
            all=summarize(rk[ev], k),
            warm=summarize(rk[wm], k),
            ranks=rk,
            series=series[m.name],
        )
    return ReplayResult(n_events=n, stride=stride, k=k, evaluate=evaluate, warm=warm, models=results)
