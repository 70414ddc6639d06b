"""Bytes form of a ``Delta`` without pickle: a JSON header, then raw little-endian buffers.

Layout: ``b"SRD1"``, the header length (uint32 little-endian), the UTF-8 JSON header
``{"origin", "run", "seq", "n_events", "w0", "items", "arrays": [[name, shape], ...]}``,
then each array's bytes in that order with the dtype fixed by
``online.shard_delta.ARRAY_DTYPES``. Decoding checks the magic, the header, every name,
shape and size (the payload must be exactly consumed) and then ``check_delta``; anything
malformed raises ``ValueError``.

>>> from streamrec.online.shard_delta import empty_delta
>>> d = empty_delta(k=3, origin=1, run="r", seq=7)
>>> decode_delta(encode_delta(d), k=3, n_buckets=64, max_item_features=4).seq
7
"""

from __future__ import annotations

import json
import struct

import numpy as np

from streamrec.online.shard_delta import ARRAY_DTYPES, SCALARS, Delta, check_delta

MAGIC = b"SRD1"
MAX_HEADER = 1 << 26


def encode_delta(d: Delta) -> bytes:
    """The bytes of ``d`` (see the module docstring)."""
    head = {n: getattr(d, n) for n in SCALARS}
    head["items"] = list(d.items)
    head["arrays"] = [[n, list(getattr(d, n).shape)] for n in ARRAY_DTYPES]
    hb = json.dumps(head, separators=(",", ":"), allow_nan=False).encode()
    bufs = [
        np.ascontiguousarray(getattr(d, n), np.dtype(t).newbyteorder("<")).tobytes() for n, t in ARRAY_DTYPES.items()
    ]
    return b"".join([MAGIC, struct.pack("<I", len(hb)), hb, *bufs])


def _bad(msg: str) -> ValueError:
    return ValueError(f"malformed shard delta: {msg}")


def _header(data: bytes) -> tuple[dict, int]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _bad("payload must be bytes")
    data = bytes(data)
    if len(data) < 8 or data[:4] != MAGIC:
        raise _bad("bad magic")
    (n,) = struct.unpack("<I", data[4:8])
    if n > MAX_HEADER or 8 + n > len(data):
        raise _bad("header length out of range")
    try:
        head = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"header is not JSON ({exc})") from None
    if not isinstance(head, dict) or set(head) != {*SCALARS, "items", "arrays"}:
        raise _bad("header keys")
    return head, 8 + n


def decode_delta(data: bytes, k: int, n_buckets: int, max_item_features: int) -> Delta:
    """The ``Delta`` encoded in ``data``, validated for an engine of this shape."""
    head, pos = _header(data)
    data = bytes(data)
    spec = head["arrays"]
    if not isinstance(spec, list) or [s[0] if isinstance(s, list) and s else None for s in spec] != list(ARRAY_DTYPES):
        raise _bad("array list")
    arrays = {}
    for (name, shape), (_, dtype) in zip(spec, ARRAY_DTYPES.items()):
        if not isinstance(shape, list) or not 1 <= len(shape) <= 2:
            raise _bad(f"{name} shape")
        if any(type(x) is not int or x < 0 or x > 1 << 31 for x in shape):
            raise _bad(f"{name} shape")
        dt = np.dtype(dtype).newbyteorder("<")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if pos + nbytes > len(data):
            raise _bad(f"{name} truncated")
        a = np.frombuffer(data, dt, int(np.prod(shape, dtype=np.int64)), pos)
        arrays[name] = a.reshape(shape).astype(dtype)
        pos += nbytes
    if pos != len(data):
        raise _bad(f"{len(data) - pos} trailing bytes")
    items = head["items"]
    if not isinstance(items, list):
        raise _bad("items")
    w0 = head["w0"]
    if type(w0) is int:
        w0 = float(w0)
    d = Delta(
        head["origin"],
        head["run"],
        head["seq"],
        head["n_events"],
        w0,
        tuple(items),
        **arrays,
    )
    check_delta(d, k, n_buckets, max_item_features)
    return d
