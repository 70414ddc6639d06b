"""The online hit rate an operator watches: was the clicked item in the last slate served to that user?

For each positive event of a user who was served before, ``hit = item in
last_slate[user]``; the rate is hits / such events since start. It costs one
dict lookup per event (no second ranking). The last slate is remembered for
at most ``max_users`` users (least recently served forgotten first). It is a
monitoring figure only: not part of the model state or of recovery snapshots.

>>> t = LastServed(max_users=2)
>>> t.serve("u1", ["a", "b"]); t.check("u1", "b"), t.check("u2", "a"), t.rate
(True, None, 1.0)
"""

from __future__ import annotations


class LastServed:
    """Last slate per user and the running hit rate of clicks against it."""

    def __init__(self, max_users: int = 1_000_000) -> None:
        self.max_users = int(max_users)
        self.last: dict[str, list[str]] = {}
        self.hits = 0
        self.checked = 0

    def check(self, user: str, item: str) -> bool | None:
        """Count one click; None when the user has not been served yet."""
        slate = self.last.get(user)
        if slate is None:
            return None
        hit = item in slate
        self.hits += hit
        self.checked += 1
        return hit

    def serve(self, user: str, items: list[str]) -> None:
        """Remember the slate just served to ``user``."""
        last = self.last
        last.pop(user, None)
        last[user] = items
        if len(last) > self.max_users:
            del last[next(iter(last))]

    @property
    def rate(self) -> float:
        return self.hits / self.checked if self.checked else 0.0
