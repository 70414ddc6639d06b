"""Turning contract events (dicts or objects) into feature rows, without trusting them.

User side: ``u=<user>`` and one row per context entry ``c:<key>=<value>`` (lists give
one row per element). Item side: ``i=<item>`` and ``a:<key>=<value>`` per attribute.
Numbers become categories (``f"{x:g}"``); non-finite numbers, None and nested objects
are dropped. Events of type impression/skip are negatives; other known types positives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from streamrec.online.hashing import FeatureHasher

POSITIVE_TYPES = frozenset({"click", "view", "purchase", "rating", "add_to_cart", "like"})
NEGATIVE_TYPES = frozenset({"impression", "skip"})
MAX_ID_CHARS = 256


def clean_id(x: Any) -> str | None:
    """External id as a string, or None when unusable."""
    if type(x) is str:  # the common case first
        return x if 0 < len(x) <= MAX_ID_CHARS else None
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, (str, int)):
        s = str(x)
        return s if 0 < len(s) <= MAX_ID_CHARS else None
    return None


def label_of(etype: Any) -> float | None:
    """1.0 for positive types, 0.0 for impression/skip, None for anything else."""
    if etype is None:
        return 1.0
    if etype in POSITIVE_TYPES:
        return 1.0
    if etype in NEGATIVE_TYPES:
        return 0.0
    return None


def _values(v: Any) -> list[str]:
    if isinstance(v, bool):
        return [str(v)]
    if isinstance(v, str):
        return [v[:256]]
    if isinstance(v, (int, float)):
        return [f"{v:g}"] if math.isfinite(v) else []
    if isinstance(v, (list, tuple)):
        out: list[str] = []
        for x in v[:64]:
            if isinstance(x, (str, int)) and not isinstance(x, bool):
                out.append(str(x)[:256])
        return out
    return []


def mapping_rows(hasher: FeatureHasher, prefix: str, m: Any, limit: int) -> list[int]:
    """Rows of ``prefix<key>=<value>`` for a mapping (anything else gives no rows)."""
    rows: list[int] = []
    if not m or not (type(m) is dict or isinstance(m, Mapping)):
        return rows
    for key, v in m.items():
        for s in _values(v):
            if len(rows) >= limit:
                return rows
            rows.append(hasher.row(f"{prefix}{key}={s}"))
    return rows
