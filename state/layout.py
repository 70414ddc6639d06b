"""Key layout of the RocksDB parameter store (raw bytes keys and values).

One model lives in one RocksDB database (``rocksdict`` in raw mode)::

    m/layout                  JSON: {"format": 1,
                                     "arrays": {name: {"dtype": "<f4", "shape": [rows, ...],
                                                       "chunk_rows": C[, "row_parts": P]}},
                                     "vocab": {name: length}, "vocab_chunk": V}
    m/meta                    JSON: ModelState.meta (JSON scalars only)
    a/<array>/<chunk:010d>    raw row bytes of rows [chunk*C, min((chunk+1)*C, rows)), or
                              with P > 1 (C = 1) part chunk % P of row chunk // P
                              (``ndarray.tobytes`` in the dtype's own byte order, i.e.
                              little-endian for the native ``<f4``/``<i8``... dtypes)
    v/<vocab>/<chunk:010d>    JSON list of the external ids [chunk*V, (chunk+1)*V)

Arrays are decoded with ``np.frombuffer`` and the dtype/shape of ``m/layout``:
nothing is ever unpickled, and only plain numeric/bool dtypes are accepted.

Chunking: ``C = clip(2**floor(log2(CHUNK_BYTES / row_bytes)), 1, MAX_CHUNK_ROWS)`` rows per
value, chosen once per array when it is fully written (kept while the array
only grows). Small rows (a bias vector) are packed many to a value so a load
reads few values; wide rows (a 32-float embedding = 128 B) stay at 1-2 rows
per value so an incremental save rewrites little more than the dirty rows. Rows wider
than ``CHUNK_BYTES`` (a 256-slot neighbour table = 1 KB) are split into ``P`` equal parts
(``row_parts``: the largest power of two <= row_bytes / CHUNK_BYTES dividing the row), so
a save that changed a few slots of a row rewrites only their parts. In every case the
chunks in key order are the array's bytes in C order, ``chunk_bytes`` each (the last may
be shorter). Layouts written before ``row_parts`` existed read as ``P = 1``.
CHUNK_BYTES=256 was picked with ``bench/state_io.py`` (10 MB model, 1% rows
dirty): 128-1024 B all commit an epoch in ~7-9 ms; larger chunks load faster
(4 KB: ~3x np.load) but rewrite more per dirty row (at 100 MB, 1 KB chunks
write ~3x the bytes of 256 B chunks). A 0-d array is one value, rewritten at
every save. A vocab is append-only (dense index -> id never changes), so an
incremental save rewrites only its chunks from the old length onwards.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

FORMAT = 1
LAYOUT_KEY = b"m/layout"
META_KEY = b"m/meta"
ARRAY_PREFIX = b"a/"
VOCAB_PREFIX = b"v/"
CHUNK_BYTES = 256
MAX_CHUNK_ROWS = 4096
VOCAB_CHUNK = 1024
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_KINDS = frozenset("biufc")  # bool, int, uint, float, complex: plain bytes, no objects


class StateCorrupt(ValueError):
    """The database content does not follow this layout (or was tampered with)."""


def check_name(name: str) -> str:
    """Array/vocab names become key parts: letters, digits, ``_.-`` only."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"bad state name {name!r}: use 1-128 of [A-Za-z0-9_.-]")
    return name


def check_dtype(dtype: Any) -> np.dtype:
    """A plain numeric/bool dtype (never object, never structured)."""
    dt = np.dtype(dtype)
    if dt.kind not in _KINDS or dt.fields is not None or dt.subdtype is not None:
        raise ValueError(f"dtype {dt} cannot be stored as raw bytes")
    return dt


def chunk_rows_for(row_bytes: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Rows per value: a power of two with about ``chunk_bytes`` per value."""
    if row_bytes <= 0:
        return MAX_CHUNK_ROWS
    rows = max(1, chunk_bytes // row_bytes)
    return int(min(MAX_CHUNK_ROWS, 1 << (rows.bit_length() - 1)))


def row_parts_for(row_bytes: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Parts per row: 1, or for rows wider than ``chunk_bytes`` the largest power of two
    ``P <= row_bytes / chunk_bytes`` that divides ``row_bytes``."""
    if row_bytes <= max(chunk_bytes, 1):
        return 1
    p = 1
    while p * 2 <= row_bytes // max(chunk_bytes, 1) and row_bytes % (p * 2) == 0:
        p *= 2
    return p


def chunk_bytes_of(spec: dict[str, Any], row_bytes: int) -> int:
    """Bytes per chunk (value) of an array with ``spec``."""
    parts = spec.get("row_parts", 1)
    return row_bytes // parts if parts > 1 else spec["chunk_rows"] * row_bytes


def chunks_of_rows(rows: np.ndarray, row_bytes: int, chunk_bytes: int) -> np.ndarray:
    """Indices (with repeats) of the chunks holding ``rows`` (a chunk holds whole rows or a
    row holds whole chunks)."""
    rows = np.asarray(rows, np.int64)
    if chunk_bytes >= row_bytes:
        return rows // (chunk_bytes // row_bytes)
    per = row_bytes // chunk_bytes
    return (rows[:, None] * per + np.arange(per, dtype=np.int64)).ravel()


def array_prefix(name: str) -> bytes:
    return ARRAY_PREFIX + name.encode() + b"/"


def vocab_prefix(name: str) -> bytes:
    return VOCAB_PREFIX + name.encode() + b"/"


def chunk_key(prefix: bytes, chunk: int) -> bytes:
    return prefix + b"%010d" % chunk


def prefix_end(prefix: bytes) -> bytes:
    """Exclusive upper bound of all keys starting with ``prefix`` (which ends in '/')."""
    return prefix[:-1] + b"0"  # '0' (0x30) follows '/' (0x2f)


def n_chunks(rows: int, chunk: int) -> int:
    return -(-rows // chunk)


def dumps(obj: Any, ascii_only: bool = False) -> bytes:
    """Compact JSON; NaN/Inf are refused (``ValueError``), numpy scalars become Python."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=ascii_only, default=_plain).encode(
        "utf-8"
    )


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON-serialisable")


def _refuse_constant(name: str) -> Any:
    raise StateCorrupt(f"non-finite number {name} in stored JSON")


def loads(raw: bytes | None, what: str) -> Any:
    """Strict JSON decode of a stored value; any problem is :class:`StateCorrupt`."""
    if raw is None:
        raise StateCorrupt(f"missing {what}")
    try:
        return json.loads(bytes(raw).decode("utf-8"), parse_constant=_refuse_constant)
    except StateCorrupt:
        raise
    except (ValueError, RecursionError) as exc:
        raise StateCorrupt(f"{what} is not valid JSON: {str(exc)[:80]}") from None


def array_spec(arr: np.ndarray, chunk_rows: int | None = None, row_parts: int = 1) -> dict[str, Any]:
    """The ``m/layout`` entry of one array (``row_parts`` > 1 requires ``chunk_rows`` 1)."""
    dt = check_dtype(arr.dtype)
    row_bytes = dt.itemsize * math.prod(arr.shape[1:]) if arr.ndim else 0
    spec: dict[str, Any] = {
        "dtype": dt.str,
        "shape": [int(s) for s in arr.shape],
        "chunk_rows": int(chunk_rows or chunk_rows_for(row_bytes)),
    }
    if row_parts > 1:
        spec["chunk_rows"], spec["row_parts"] = 1, int(row_parts)
    return spec


def parse_layout(raw: bytes | None) -> dict[str, Any]:
    """Decode and validate ``m/layout`` (types, names, dtypes, sizes)."""
    lay = loads(raw, "m/layout")
    try:
        if lay["format"] != FORMAT:
            raise StateCorrupt(f"unsupported layout format {lay['format']!r}")
        for name, spec in lay["arrays"].items():
            check_name(name)
            check_dtype(spec["dtype"])
            shape, chunk = spec["shape"], spec["chunk_rows"]
            if not all(isinstance(s, int) and 0 <= s < 2**40 for s in shape):
                raise StateCorrupt(f"bad shape for {name}: {shape!r}")
            if not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK_ROWS:
                raise StateCorrupt(f"bad chunk_rows for {name}: {chunk!r}")
            parts = spec.get("row_parts", 1)
            row_bytes = np.dtype(spec["dtype"]).itemsize * math.prod(shape[1:])
            if not isinstance(parts, int) or parts < 1 or (parts > 1 and (chunk != 1 or row_bytes % parts)):
                raise StateCorrupt(f"bad row_parts for {name}: {parts!r}")
        for name, n in lay["vocab"].items():
            check_name(name)
            if not isinstance(n, int) or n < 0:
                raise StateCorrupt(f"bad vocab length for {name}: {n!r}")
        if not isinstance(lay["vocab_chunk"], int) or lay["vocab_chunk"] < 1:
            raise StateCorrupt("bad vocab_chunk")
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateCorrupt(f"m/layout malformed: {exc!r}") from None
    except ValueError as exc:
        if isinstance(exc, StateCorrupt):
            raise
        raise StateCorrupt(str(exc)) from None
    return lay
