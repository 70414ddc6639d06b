"""Sharded prequential replay: S engines, users routed by a stable hash, deltas every T.

``ShardedEngine`` is a ``PrequentialModel``: event ``t`` is ranked and learned by the
shard owning its user (``shard_of``: ``hash64("shard:" + user) % S``); after every ``T``
replayed events every shard emits its delta, which is encoded to bytes, decoded and
merged by every other shard (the code path of the flow), its FM moves weighted by the round's
shares (``online.shard_round``). So a shard sees another shard's
shared rows at most ``T`` events late, its own users' rows never. With ``S = 1`` the
per-event ranks equal the unsharded engine's (results do not depend on batching).

>>> from streamrec.contract.events import ClickEvent
>>> from streamrec.online.config import RecommenderConfig
>>> ev = [ClickEvent(str(n), 1.7e9 + n, f"u{n % 5}", f"i{n % 7}") for n in range(60)]
>>> m = ShardedEngine(RecommenderConfig(n_buckets=1024, k=4), n_shards=2, sync_every=10)
>>> r = m.evaluate_and_learn(ev, np.ones(60, np.bool_))
>>> r.shape, m.n_syncs
((60,), 6)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamrec.online.delta_codec import decode_delta, encode_delta
from streamrec.online.recommender import Recommender
from streamrec.online.shard_round import weigh_round
from streamrec.online.shard_sync import ShardSync, shard_of

__all__ = ["ShardedEngine", "curve_table", "shard_of"]


def _user_of(event: Any) -> str:
    user = event.get("user") if isinstance(event, Mapping) else getattr(event, "user", None)
    return str(user)


class ShardedEngine:
    """``n_shards`` engines exchanging deltas every ``sync_every`` events."""

    def __init__(self, config: Any, n_shards: int, sync_every: int, run: str = "replay") -> None:
        if n_shards < 1 or sync_every < 1:
            raise ValueError("n_shards >= 1 and sync_every >= 1 required")
        self.n_shards, self.sync_every = int(n_shards), int(sync_every)
        self.name = f"engine S={n_shards} T={sync_every}"
        self.shards = [ShardSync(Recommender(config), s, run) for s in range(n_shards)]
        self.n_events = self.n_syncs = self.delta_bytes = 0

    def sync(self) -> None:
        """Every shard emits a delta; every other shard merges it (through bytes)."""
        cfg = self.shards[0].rec.config
        shape = (cfg.k, cfg.n_buckets, cfg.max_item_features)
        payloads = [encode_delta(s.emit()) for s in self.shards]
        self.n_syncs += 1
        if self.n_shards == 1:
            return
        own = [decode_delta(data, *shape) for data in payloads]
        fm0, d0 = self.shards[0].rec.state.fm, own[0]
        g_w, g_v = fm0.gw.astype(np.float64), fm0.gv.astype(np.float64)
        g_w[d0.fm_rows] -= d0.fm_gw  # the AdaGrad sums at the start of the round
        g_v[d0.fm_rows] -= d0.fm_gv
        weighted = weigh_round(own, g_w, g_v)
        self.delta_bytes += sum(len(p) for p in payloads) * (self.n_shards - 1)
        for s in self.shards:
            for d, w in zip(own, weighted):
                if d.origin == s.origin:
                    s.correct_own(d, w)
                else:
                    s.merge(w)

    def evaluate_and_learn(self, events: Sequence[Any], evaluate: np.ndarray) -> np.ndarray:
        """Ranks of ``events`` (0 = miss / not evaluated), each by its user's shard."""
        events, evaluate = list(events), np.asarray(evaluate, np.bool_)
        ranks = np.zeros(len(events), np.int32)
        owner = np.asarray([shard_of(_user_of(e), self.n_shards) for e in events], np.int64)
        lo = 0
        while lo < len(events):
            hi = min(len(events), lo + self.sync_every - self.n_events % self.sync_every)
            for s, sh in enumerate(self.shards):
                sel = np.flatnonzero(owner[lo:hi] == s) + lo
                if sel.size:
                    r = sh.rec.evaluate_and_learn([events[i] for i in sel], evaluate[sel])
                    ranks[sel] = r
            self.n_events += hi - lo
            if self.n_events % self.sync_every == 0:
                self.sync()
            lo = hi
        return ranks


def curve_table(results: dict[tuple[int, int], float]) -> str:
    """Rows T, columns S: HR@10 and the difference to S = 1 at the same T."""
    shards = sorted({s for s, _ in results})
    syncs = sorted({t for _, t in results})
    head = "T \\ S".ljust(8) + "".join(f"S={s}".rjust(20) for s in shards)
    lines = [head]
    for t in syncs:
        ref = results.get((1, t))
        cells = []
        for s in shards:
            hr = results.get((s, t))
            if hr is None:
                cells.append("-".rjust(20))
            elif ref is None or s == 1:
                cells.append(f"{hr:.4f}".rjust(20))
            else:
                cells.append(f"{hr:.4f} ({hr - ref:+.4f})".rjust(20))
        lines.append(str(t).ljust(8) + "".join(cells))
    return "\n".join(lines)
