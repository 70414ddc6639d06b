"""Which deltas a shard merges, and when, across restarts of the cluster.

Every process of one cluster start shares one run id ``R`` (``RunConfig.run_id``); a
delta is named ``(origin, run, seq)`` and an origin's ``seq`` continues across starts
(it is in the snapshot). The deltas topic keeps one origin's deltas in order (keyed by
origin). After a resume from epoch ``E`` the topic is re-read from ``E``'s offsets and
holds, per origin, deltas of earlier runs in two kinds: those emitted before ``E`` but
not merged here by then (valid: ``seq < m``, ``m`` = the origin's ``seq`` at ``E``) and
those emitted after ``E`` by the crashed start (void: the origin relearns those events
and emits them again). Both come before the origin's first delta of run ``R``, whose
``seq`` is ``m``. So:

* a delta of run ``R``: merged now; first releases the held deltas of its origin, merged
  in ``seq`` order if ``seq < m``, dropped otherwise;
* a delta of another run on a resumed shard: held (kept in the snapshot);
* a delta of another run on a fresh start: dropped (a run before this state existed).

Each origin announces run ``R`` with a delta (empty if need be) right after it starts, so
nothing is held for long. ``ShardSync``'s cursor then skips any ``(origin, run, seq)``
merged before: no delta is merged twice.

>>> box = DeltaInbox("r2", resumed=True)
>>> box.offer(0, "r1", 4, b"a"), box.offer(0, "r1", 5, b"void"), box.offer(0, "r2", 5, b"b")
([], [], [b'a', b'b'])
"""

from __future__ import annotations


class DeltaInbox:
    """Held deltas of earlier runs, per origin, of a shard in run ``run``."""

    def __init__(self, run: str, resumed: bool, held: dict | None = None) -> None:
        self.run, self.resumed = str(run), bool(resumed)
        self.held: dict[int, dict[int, bytes]] = {
            int(o): {int(s): bytes(p) for s, p in by_seq.items()} for o, by_seq in (held or {}).items()
        }
        self.started: set[int] = set()  # origins whose run-``run`` deltas arrived

    def offer(self, origin: int, run: str, seq: int, payload: bytes) -> list[bytes]:
        """The payloads to merge now, in order, after ``payload`` arrived."""
        if run == self.run:
            out = []
            if origin not in self.started:
                self.started.add(origin)
                held = self.held.pop(origin, {})
                out = [held[s] for s in sorted(held) if s < seq]
            return [*out, payload]
        if self.resumed and origin not in self.started:
            self.held.setdefault(origin, {})[seq] = payload
        return []

    def snapshot(self) -> dict[int, dict[int, bytes]]:
        """The held payloads (origin -> seq -> bytes), for the Bytewax snapshot."""
        return {o: dict(by_seq) for o, by_seq in self.held.items()}
