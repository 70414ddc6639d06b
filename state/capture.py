"""A capture: the exact key operations of one save, copied out of the live arrays.

``take(state, dirty, extra, stored, shadow)`` plans a save of ``state`` on top of a DB whose
layout is ``stored`` (None: write everything) and returns a :class:`Capture` -- delete
ranges, the changed chunks of each array (``ChunkRun``: chunk numbers + one private
``(n, chunk_bytes)`` buffer), other puts (vocab tail, partial chunks, ``extra``), then
``m/layout`` and ``m/meta``. Nothing in it refers to the live arrays, so the model may
change while it is written (``apply``) by another thread or replayed from a redo file.

Diffing: with a ``shadow`` (array name -> its bytes as last captured), of the chunks holding
dirty rows only those whose bytes differ are kept (:mod:`state.chunk_diff`: one pass that
also brings the shadow up to date). A capture therefore costs O(bytes of the dirty rows)
memory traffic plus a copy of the changed bytes.

Applying (one atomic ``WriteBatch``): the ranges first, then the chunks, then the puts
(``m/layout``, ``m/meta`` last). ``chain(first, then)`` makes one capture of two taken in
turn (an epoch's pre-copy and its rest).

>>> import numpy as np
>>> from streamrec.online.model_state import ModelState
>>> s = ModelState({"w": np.arange(128, dtype="<f4")}, {}, {"n": 1})
>>> shadow = {}
>>> full = take(s, None, None, None, shadow, 256)
>>> s.arrays["w"][70] = -1.0
>>> delta = take(s, {"w": np.array([70, 3])}, None, full.layout, shadow, 256)
>>> [(r.prefix, r.idx.tolist(), r.data.shape) for r in delta.runs]
[(b'a/w/', [1], (1, 256))]
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rocksdict

from streamrec.online.model_state import ModelState
from streamrec.state import layout as L
from streamrec.state.chunk_diff import diff_runs

Ops = tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]
Alloc = Callable[[int, Any], np.ndarray]


@dataclass
class ChunkRun:
    """Chunks ``idx`` (ascending) of the array under ``prefix``, ``data[i]`` the bytes of ``idx[i]``."""

    prefix: bytes
    cb: int
    idx: np.ndarray
    data: np.ndarray


@dataclass
class Capture:
    """One save's operations (see the module docstring); ``full``: written with no stored base."""

    layout: dict[str, Any]
    layout_raw: bytes
    meta_raw: bytes
    full: bool
    ranges: list[tuple[bytes, bytes]] = field(default_factory=list)
    runs: list[ChunkRun] = field(default_factory=list)
    puts: list[tuple[bytes, bytes]] = field(default_factory=list)

    def digest(self) -> str:
        """``ParamStore.digest()`` of the DB once applied (hash of layout + meta)."""
        return hashlib.blake2b(self.layout_raw + self.meta_raw, digest_size=8).hexdigest()

    @property
    def nbytes(self) -> int:
        return sum(r.data.nbytes for r in self.runs) + sum(len(v) for _, v in self.puts)


def take(
    state: ModelState,
    dirty: Mapping[str, np.ndarray] | None,
    extra: Ops | None,
    stored: dict[str, Any] | None,
    shadow: dict[str, np.ndarray] | None,
    chunk_bytes: int = L.CHUNK_BYTES,
    alloc: Alloc = np.empty,
) -> Capture:
    """Capture the save of ``state`` (``dirty=None`` or ``stored=None``: everything); updates
    ``shadow``. ``alloc(n, dtype)`` gives the buffers of diffed chunks (a pool avoids the page
    faults of fresh memory: ~40% of a capture's time)."""
    arrays = {L.check_name(n): np.asarray(a, order="C") for n, a in state.arrays.items()}
    for a in arrays.values():
        L.check_dtype(a.dtype)
    vocab = {L.check_name(n): v for n, v in state.vocab.items()}
    if not isinstance(state.meta, Mapping):
        raise TypeError("ModelState.meta must be a dict")
    meta_raw = L.dumps(dict(state.meta))
    old = stored if dirty is not None else None
    lay: dict[str, Any] = {"format": L.FORMAT, "arrays": {}, "vocab": {}, "vocab_chunk": L.VOCAB_CHUNK}
    cap = Capture(lay, b"", meta_raw, old is None)
    if old is None:
        cap.ranges += [(p, L.prefix_end(p)) for p in (L.ARRAY_PREFIX, L.VOCAB_PREFIX)]
    else:
        for p in [L.array_prefix(n) for n in set(old["arrays"]) - set(arrays)] + [
            L.vocab_prefix(n) for n in set(old["vocab"]) - set(vocab)
        ]:
            cap.ranges.append((p, L.prefix_end(p)))
    for name, arr in arrays.items():
        prev = old["arrays"].get(name) if old else None
        rows = None if dirty is None else dirty.get(name)
        lay["arrays"][name] = _take_array(cap, name, arr, prev, rows, shadow, chunk_bytes, alloc)
    for name, ids in vocab.items():
        prev_len = old["vocab"].get(name) if old and old["vocab_chunk"] == L.VOCAB_CHUNK else None
        cap.ranges += _vocab_puts(cap.puts, L.vocab_prefix(name), ids, prev_len)
        lay["vocab"][name] = len(ids)
    if shadow is not None:
        for gone in set(shadow) - set(arrays):
            del shadow[gone]
    if extra is not None:
        cap.ranges += extra[1]
        cap.puts += extra[0]
    cap.layout_raw = L.dumps(lay)
    cap.puts += [(L.LAYOUT_KEY, cap.layout_raw), (L.META_KEY, meta_raw)]
    return cap


def _take_array(cap, name, arr, prev, rows_dirty, shadow, chunk_bytes, alloc) -> dict[str, Any]:
    """Add the array's chunks to ``cap`` and return its layout entry."""
    prefix = L.array_prefix(name)
    if arr.ndim == 0:
        cap.puts.append((L.chunk_key(prefix, 0), arr.tobytes()))
        return L.array_spec(arr, 1)
    rb, rows = _row_bytes(arr), arr.shape[0]
    same = prev is not None and prev["dtype"] == arr.dtype.str and prev["shape"][1:] == list(arr.shape[1:])
    if not same:
        if prev is not None:
            cap.ranges.append((prefix, L.prefix_end(prefix)))
        spec = L.array_spec(arr, L.chunk_rows_for(rb, chunk_bytes), L.row_parts_for(rb, chunk_bytes))
        chunks = None
    else:
        spec = L.array_spec(arr, prev["chunk_rows"], prev.get("row_parts", 1))
        chunks = _candidates(cap, prefix, arr, spec, prev["shape"][0], rows_dirty)
    if rb == 0 or rows == 0:
        return spec
    cb, raw = L.chunk_bytes_of(spec, rb), _raw(arr)
    n_full = raw.shape[0] // cb
    old = shadow.get(name) if shadow is not None else None
    # bytes go out as read once into the shadow (when there is one): a copy racing with
    # writes to the array (a pre-copy, ``state.epoch_commit``) then leaves the shadow equal
    # to what it captured, and the rows written meanwhile, dirty again, differ from both
    if chunks is None or old is None or old.dtype != arr.dtype or old.shape[1:] != arr.shape[1:]:
        chunks = np.arange(L.n_chunks(raw.shape[0], cb)) if chunks is None else chunks
        full = chunks[chunks < n_full]
        if shadow is not None:
            shadow[name] = old = arr.copy()
        src = raw if old is None else _raw(old)
        cap.runs.append(ChunkRun(prefix, cb, full, src[: n_full * cb].reshape(n_full, cb)[full]))
    else:
        n_cmp = n_full
        if old.shape[0] != rows:  # grown or shrunk: chunks past the rows both have are new
            common = min(rows, old.shape[0])
            shadow[name] = old = _resized(old, arr.shape)
            n_cmp = common * rb // cb
            _raw(old)[n_cmp * cb :] = raw[n_cmp * cb :]  # from the first chunk not both have whole
        full = chunks[chunks < n_full]
        for idx, data in diff_runs(raw, _raw(old), full[full < n_cmp], cb, alloc):
            cap.runs.append(ChunkRun(prefix, cb, idx, data))
        new = full[full >= n_cmp]
        if len(new):
            cap.runs.append(ChunkRun(prefix, cb, new, _raw(old)[: n_full * cb].reshape(n_full, cb)[new]))
    if n_full * cb < raw.shape[0] and len(chunks) and chunks[-1] >= n_full:  # the last, partial chunk
        if old is not None:
            _raw(old)[n_full * cb :] = raw[n_full * cb :]
        cap.puts.append((L.chunk_key(prefix, n_full), (raw if old is None else _raw(old))[n_full * cb :].tobytes()))
    return spec


def _candidates(cap, prefix, arr, spec, old_rows, rows_dirty) -> np.ndarray:
    """Sorted chunks holding dirty rows or rows past the old end; deletes chunks past the new end."""
    rb, rows = _row_bytes(arr), arr.shape[0]
    if rb == 0:
        return np.empty(0, np.int64)
    cb = L.chunk_bytes_of(spec, rb)
    parts = []
    if rows_dirty is not None:
        idx = np.asarray(rows_dirty).astype(np.int64, copy=False).ravel()
        parts.append(L.chunks_of_rows(idx[(idx >= 0) & (idx < rows)], rb, cb))
    if rows > old_rows:
        parts.append(np.arange(old_rows * rb // cb, L.n_chunks(rows * rb, cb)))
    elif rows < old_rows:
        cap.ranges.append((L.chunk_key(prefix, L.n_chunks(rows * rb, cb)), L.prefix_end(prefix)))
        if rows * rb % cb:
            parts.append(np.array([rows * rb // cb]))
    if not parts:
        return np.empty(0, np.int64)
    c = np.concatenate(parts).astype(np.int64, copy=False)
    if len(parts) > 1 or not np.all(c[1:] >= c[:-1]):
        c = np.sort(c)
    return c[np.concatenate([[True], c[1:] != c[:-1]])] if len(c) else c  # drop repeats without hashing


def chain(first: Capture, then: Capture) -> Capture:
    """One capture that leaves a DB as applying ``first`` and then ``then`` would (an epoch
    captured in two steps: ``state.epoch_commit``'s pre-copy, then the rest at the epoch).
    ``apply`` writes every range, then every run, then every put, so of ``first`` it drops
    the keys that ``then`` deletes, its puts that ``then`` writes as chunks, and its layout
    and meta (``then``'s come last)."""
    if then.full:  # it rewrites everything
        return then
    cut = then.ranges
    runs = []
    for run in first.runs:
        hit = [(s, e) for s, e in cut if s < L.prefix_end(run.prefix) and e > run.prefix]
        if hit:
            keep = np.array([not _in_ranges(k, hit) for k in _chunk_keys(run.prefix, run.idx)], bool)
            run = ChunkRun(run.prefix, run.cb, run.idx[keep], run.data[keep])
        runs.append(run)
    last = {L.LAYOUT_KEY, L.META_KEY}
    puts = [(k, v) for k, v in first.puts if k not in last and not _in_ranges(k, cut) and not _in_runs(k, then.runs)]
    return Capture(
        then.layout,
        then.layout_raw,
        then.meta_raw,
        first.full,
        first.ranges + then.ranges,
        runs + then.runs,
        puts + then.puts,
    )


def _in_ranges(key: bytes, ranges: list[tuple[bytes, bytes]]) -> bool:
    return any(s <= key < e for s, e in ranges)


def _in_runs(key: bytes, runs: list[ChunkRun]) -> bool:
    """Whether a chunk run writes ``key``."""
    for run in runs:
        digits = key[len(run.prefix) :]
        if key.startswith(run.prefix) and len(digits) == 10 and digits.isdigit():
            k = int(digits)
            at = int(np.searchsorted(run.idx, k))
            if at < len(run.idx) and run.idx[at] == k:
                return True
    return False


def apply(db: rocksdict.Rdict, cap: Capture) -> None:
    """Write ``cap`` to ``db`` (raw mode) in one atomic ``WriteBatch``."""
    wb = rocksdict.WriteBatch(raw_mode=True)
    for start, end in cap.ranges:
        wb.delete_range(start, end)
    for run in cap.runs:
        deque(map(wb.put, _chunk_keys(run.prefix, run.idx), run.data.view(f"V{run.cb}").ravel().tolist()), 0)
    for key, value in cap.puts:
        wb.put(key, value)
    db.write(wb)


def _vocab_puts(puts: list[tuple[bytes, bytes]], prefix: bytes, ids: list[str], prev_len: int | None) -> list:
    """Append the vocab chunks to rewrite to ``puts``; returns the ranges to delete first.
    Vocab is append-only: the chunks from the previous length on (only those entries are
    type-checked; a bad one raises before anything is written)."""
    v, ranges = L.VOCAB_CHUNK, []
    if prev_len is None or prev_len > len(ids):
        ranges.append((prefix, L.prefix_end(prefix)))
        start = 0
    elif prev_len == len(ids):
        return ranges
    else:
        start = prev_len // v
    for k in range(start, L.n_chunks(len(ids), v)):
        part = list(ids[k * v : (k + 1) * v])
        if not all(isinstance(s, str) for s in part):
            raise TypeError(f"vocab {prefix.decode()} must be a list of str")
        puts.append((L.chunk_key(prefix, k), L.dumps(part, ascii_only=True)))
    return ranges


def _chunk_keys(prefix: bytes, chunks: np.ndarray) -> list[bytes]:
    """``L.chunk_key(prefix, k)`` for every ``k`` in ``chunks`` (< 10**10), formatted in numpy."""
    digits = chunks.astype(np.int64)[:, None] // 10 ** np.arange(9, -1, -1, dtype=np.int64) % 10
    keys = np.empty((len(chunks), len(prefix) + 10), np.uint8)
    keys[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
    keys[:, len(prefix) :] = digits + ord("0")
    return keys.view(f"V{keys.shape[1]}").ravel().tolist()


def _resized(old: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``old`` with ``shape`` (same row width), its rows in common kept. The shadow's own
    buffer is grown in place (``realloc``: a large block is remapped, not copied, so only
    the new rows' pages are touched, which on this project's VMs cost ~2 ms per MB the first
    time); a shadow that shares its memory is copied instead."""
    if old.flags.owndata and old.flags.c_contiguous:
        old.resize(shape, refcheck=False)  # nothing views a shadow: captures copy what they keep
        return old
    out = np.empty(shape, old.dtype)
    common = min(shape[0], old.shape[0])
    out[:common] = old[:common]
    return out


def _raw(arr: np.ndarray) -> np.ndarray:
    """The array's bytes in C order (a view of a C-contiguous array)."""
    return arr.reshape(-1).view(np.uint8)


def _row_bytes(arr: np.ndarray) -> int:
    return arr.dtype.itemsize * math.prod(arr.shape[1:])
