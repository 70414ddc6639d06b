"""ParamStore: a ModelState persisted in RocksDB, one atomic WriteBatch per save.

Contract: after ``save(state, dirty)`` returns, ``load()`` (also after a
crash and reopen) returns a state bitwise equal to ``state`` -- provided that
``dirty`` lists every row changed since the previous save of this store
(``dirty=None`` writes everything). Each save is ONE ``WriteBatch``: a crash
mid-save leaves the previous save intact. Key layout: :mod:`state.layout`.

``diff=True`` keeps a copy of every array as last stored (memory: one more model) and
writes, of the chunks holding dirty rows, only those whose bytes differ from it: a
learner that flags a whole row for a change in one slot of it (an item's 2 KB of
neighbour tables, a refreshed cache value equal to the old one) costs the changed
chunks, not the row. The copy is updated only after the batch is written.

>>> import tempfile, numpy as np
>>> from streamrec.online.model_state import ModelState
>>> s = ModelState(arrays={"w": np.arange(6, dtype="<f4").reshape(3, 2)},
...                vocab={"items": ["a", "b", "c"]}, meta={"events": 3})
>>> with ParamStore(tempfile.mkdtemp()) as store:
...     _ = store.save(s)
...     s.arrays["w"][1] = -1.0
...     _ = store.save(s, dirty={"w": np.array([1])})
...     back = store.load()
>>> back.arrays["w"].tolist(), back.vocab, back.meta
([[0.0, 1.0], [-1.0, -1.0], [4.0, 5.0]], {'items': ['a', 'b', 'c']}, {'events': 3})
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np
import rocksdict

from streamrec.online.model_state import ModelState
from streamrec.state import layout as L
from streamrec.state.disk import live_db_path, raw_items, raw_options


class ParamStore:
    """Open (creating if missing) the live RocksDB of ``state_dir``.

    ``wal=False`` skips RocksDB's write-ahead log (a save costs its memtable insert
    only): for a writer that checkpoints every state it relies on (the epoch commits of
    :mod:`state.epochs` flush the memtable into the checkpoint) and restores from a
    checkpoint after a crash. Saves after the last checkpoint may then be lost in a crash.
    """

    def __init__(
        self,
        state_dir: str | Path,
        *,
        sync: bool = False,
        wal: bool = True,
        read_only: bool = False,
        chunk_bytes: int = L.CHUNK_BYTES,
        diff: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir)
        if not read_only:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = live_db_path(self.state_dir)
        access = rocksdict.AccessType.read_only() if read_only else rocksdict.AccessType.read_write()
        self.db = rocksdict.Rdict(str(self.path), raw_options(), access_type=access)
        self._closed = False
        wopts = rocksdict.WriteOptions()
        wopts.sync = sync
        wopts.disable_wal = not wal  # type: ignore[method-assign,assignment]  # a property; the stub says method
        self.db.set_write_options(wopts)
        self.read_only = read_only
        self.chunk_bytes = int(chunk_bytes)
        #: with ``diff``: array name -> its bytes as stored (None: no diffing)
        self._shadow: dict[str, np.ndarray] | None = {} if diff else None
        raw = self.db.get(L.LAYOUT_KEY)
        self._layout: dict[str, Any] | None = None if raw is None else L.parse_layout(raw)

    # ---------------------------------------------------------------- writing
    def save(
        self,
        state: ModelState,
        dirty: Mapping[str, np.ndarray] | None = None,
        extra: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None = None,
    ) -> int:
        """Write ``state`` (all of it if ``dirty`` is None, else the dirty rows, grown
        rows, new vocab entries and meta) in one atomic batch; returns bytes written.

        ``extra = (puts, delete_ranges)`` adds other keys (outside the model's ``a/``,
        ``v/``, ``m/`` prefixes, e.g. the reward join's ``j/``) to the same batch: the
        ranges are deleted first, then the puts written."""
        arrays = {L.check_name(n): np.asarray(a, order="C") for n, a in state.arrays.items()}
        for a in arrays.values():
            L.check_dtype(a.dtype)
        vocab = {L.check_name(n): v for n, v in state.vocab.items()}
        if not isinstance(state.meta, Mapping):
            raise TypeError("ModelState.meta must be a dict")
        meta_raw = L.dumps(dict(state.meta))  # raises before anything is written
        old = self._layout if dirty is not None else None
        wb = rocksdict.WriteBatch(raw_mode=True)
        if old is None:
            wb.delete_range(L.ARRAY_PREFIX, L.prefix_end(L.ARRAY_PREFIX))
            wb.delete_range(L.VOCAB_PREFIX, L.prefix_end(L.VOCAB_PREFIX))
        else:
            for name in set(old["arrays"]) - set(arrays):
                p = L.array_prefix(name)
                wb.delete_range(p, L.prefix_end(p))
            for name in set(old["vocab"]) - set(vocab):
                p = L.vocab_prefix(name)
                wb.delete_range(p, L.prefix_end(p))
        new_layout: dict[str, Any] = {
            "format": L.FORMAT,
            "arrays": {},
            "vocab": {},
            "vocab_chunk": L.VOCAB_CHUNK,
        }
        written = 0
        put: dict[str, np.ndarray | None] = {}  # chunks written per array (None: all of it)
        for name, arr in arrays.items():
            prev = old["arrays"].get(name) if old else None
            spec, put[name] = self._put_array(wb, name, arr, prev, None if dirty is None else dirty.get(name))
            new_layout["arrays"][name] = spec
            written += _put_chunks(wb, L.array_prefix(name), arr, spec, put[name])
        for name, ids in vocab.items():
            prev_len = old["vocab"].get(name) if old and old["vocab_chunk"] == L.VOCAB_CHUNK else None
            written += _put_vocab(wb, name, ids, prev_len)
            new_layout["vocab"][name] = len(ids)
        layout_raw = L.dumps(new_layout)
        if extra is not None:
            puts, ranges = extra
            for start, end in ranges:
                wb.delete_range(start, end)
            for key, value in puts:
                wb.put(key, value)
                written += len(value)
        wb.put(L.LAYOUT_KEY, layout_raw)
        wb.put(L.META_KEY, meta_raw)
        self.db.write(wb)
        self._layout = new_layout
        if self._shadow is not None:
            self._shadow = {
                n: _shadow_update(self._shadow.get(n), a, new_layout["arrays"][n], put[n]) for n, a in arrays.items()
            }
        return written + len(layout_raw) + len(meta_raw)

    def _put_array(self, wb, name, arr, prev, rows_dirty) -> tuple[dict[str, Any], np.ndarray | None]:
        """The array's layout entry and the chunks to put (None: all); deletes stale keys."""
        prefix = L.array_prefix(name)
        if arr.ndim == 0:
            return L.array_spec(arr, 1), None
        rb, rows = _row_bytes(arr), arr.shape[0]
        same = (
            prev is not None
            and prev["dtype"] == arr.dtype.str
            and len(prev["shape"]) == arr.ndim
            and list(prev["shape"][1:]) == list(arr.shape[1:])
        )
        if not same:
            if prev is not None:
                wb.delete_range(prefix, L.prefix_end(prefix))
            spec = L.array_spec(arr, L.chunk_rows_for(rb, self.chunk_bytes), L.row_parts_for(rb, self.chunk_bytes))
            return spec, None
        spec = L.array_spec(arr, prev["chunk_rows"], prev.get("row_parts", 1))
        if rb == 0 or rows == 0:
            return spec, np.empty(0, np.int64)
        cb, old_rows = L.chunk_bytes_of(spec, rb), prev["shape"][0]
        parts = []
        if rows_dirty is not None:
            idx = np.asarray(rows_dirty).astype(np.int64, copy=False).ravel()
            parts.append(L.chunks_of_rows(idx[(idx >= 0) & (idx < rows)], rb, cb))
        if rows > old_rows:
            parts.append(np.arange(old_rows * rb // cb, L.n_chunks(rows * rb, cb)))
        elif rows < old_rows:
            wb.delete_range(L.chunk_key(prefix, L.n_chunks(rows * rb, cb)), L.prefix_end(prefix))
            if rows * rb % cb:
                parts.append(np.array([rows * rb // cb]))
        chunks = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        shadow = self._shadow.get(name) if self._shadow is not None else None
        if shadow is not None and shadow.dtype == arr.dtype and shadow.shape[1:] == arr.shape[1:]:
            chunks = _changed_chunks(_raw(arr), _raw(shadow), chunks, cb)
        return spec, chunks

    # ---------------------------------------------------------------- reading
    def load(self) -> ModelState | None:
        """The stored state (None for an empty store); raises ``StateCorrupt``."""
        raw = self.db.get(L.LAYOUT_KEY)
        if raw is None:
            return None
        lay = L.parse_layout(raw)
        meta = L.loads(self.db.get(L.META_KEY), "m/meta")
        if not isinstance(meta, dict):
            raise L.StateCorrupt("m/meta is not a JSON object")
        arrays = {name: self._read_array(name, spec) for name, spec in lay["arrays"].items()}
        vocab = {name: self._read_vocab(name, n, lay["vocab_chunk"]) for name, n in lay["vocab"].items()}
        return ModelState(arrays=arrays, vocab=vocab, meta=meta)

    def _read_array(self, name: str, spec: dict[str, Any]) -> np.ndarray:
        dt, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        out = np.empty(shape, dtype=dt)
        rows = shape[0] if shape else 1
        row_bytes = out.nbytes // rows if rows else 0
        if row_bytes == 0:
            return out
        full = L.chunk_bytes_of(spec, row_bytes) if shape else out.nbytes
        n = L.n_chunks(out.nbytes, full)
        keys, vals = self._scan(L.array_prefix(name))
        if (
            len(vals) != n
            or keys != [L.chunk_key(L.array_prefix(name), k) for k in range(n)]
            or any(len(v) != full for v in vals[:-1])
            or len(vals[-1]) != out.nbytes - (n - 1) * full
        ):
            raise L.StateCorrupt(f"array {name}: chunks missing or of wrong size")
        out.reshape(-1).view(np.uint8)[:] = np.frombuffer(b"".join(vals), dtype=np.uint8)
        if self._shadow is not None:
            self._shadow[name] = out.copy()
        return out

    def items(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """All (key, value) pairs under ``prefix``, in key order."""
        keys, vals = self._scan(prefix)
        return list(zip(keys, vals))

    def _scan(self, prefix: bytes) -> tuple[list[bytes], list[bytes]]:
        """All (key, value) pairs under ``prefix`` in key order (one iterator pass)."""
        end = L.prefix_end(prefix)
        keys: list[bytes] = []
        vals: list[bytes] = []
        for k, v in raw_items(self.db, from_key=prefix):
            if k >= end:
                break
            keys.append(k)
            vals.append(v)
        return keys, vals

    def _read_vocab(self, name: str, n: int, chunk: int) -> list[str]:
        keys, vals = self._scan(L.vocab_prefix(name))
        if keys != [L.chunk_key(L.vocab_prefix(name), k) for k in range(L.n_chunks(n, chunk))]:
            raise L.StateCorrupt(f"vocab {name}: chunks missing")
        ids: list[str] = []
        for k, val in enumerate(vals):
            part = L.loads(val, f"vocab {name} chunk {k}")
            if not isinstance(part, list) or not all(isinstance(s, str) for s in part):
                raise L.StateCorrupt(f"vocab {name} chunk {k} is not a list of strings")
            ids.extend(part)
        if len(ids) != n:
            raise L.StateCorrupt(f"vocab {name}: {len(ids)} ids stored, layout says {n}")
        return ids

    # ------------------------------------------------------------ utilities
    def digest(self) -> str:
        """Short hash of layout + meta: identifies a saved state cheaply (meta holds counters)."""
        h = hashlib.blake2b(digest_size=8)
        h.update(self.db.get(L.LAYOUT_KEY) or b"")
        h.update(self.db.get(L.META_KEY) or b"")
        return h.hexdigest()

    def checkpoint(self, path: str | Path) -> None:
        """A consistent physical copy (RocksDB checkpoint: flush + hard links) at ``path``."""
        rocksdict.Checkpoint(self.db).create_checkpoint(str(path))

    def size_bytes(self) -> int:
        """Bytes of table files + live WAL of this DB (a gauge for monitoring)."""
        return sum(f.stat().st_size for f in self.path.iterdir() if f.suffix in (".sst", ".log"))

    def close(self) -> None:
        if not self._closed:
            self.db.close()
            self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raw(arr: np.ndarray) -> np.ndarray:
    """The array's bytes in C order (a view of a C-contiguous array)."""
    return arr.reshape(-1).view(np.uint8)


def _put_chunks(wb, prefix: bytes, arr: np.ndarray, spec: dict[str, Any], chunks: np.ndarray | None) -> int:
    """Put the listed chunks (None: all); full chunks are gathered in one numpy copy (void rows)."""
    if arr.ndim == 0:
        wb.put(L.chunk_key(prefix, 0), arr.tobytes())
        return arr.nbytes
    rb = _row_bytes(arr)
    if rb == 0 or arr.shape[0] == 0:
        return 0
    cb, raw = L.chunk_bytes_of(spec, rb), _raw(arr)
    if chunks is None:
        chunks = np.arange(L.n_chunks(raw.shape[0], cb))
    n_full = raw.shape[0] // cb
    full = chunks[chunks < n_full]
    if len(full):
        deque(map(wb.put, _chunk_keys(prefix, full), raw[: n_full * cb].view(f"V{cb}")[full].tolist()), 0)
    n = len(full) * cb
    if len(full) < len(chunks):  # the last, partial chunk
        tail = raw[n_full * cb :].tobytes()
        wb.put(L.chunk_key(prefix, n_full), tail)
        n += len(tail)
    return n


def _chunk_keys(prefix: bytes, chunks: np.ndarray) -> list[bytes]:
    """``L.chunk_key(prefix, k)`` for every ``k`` in ``chunks`` (< 10**10), formatted in numpy."""
    digits = chunks.astype(np.int64)[:, None] // 10 ** np.arange(9, -1, -1, dtype=np.int64) % 10
    keys = np.empty((len(chunks), len(prefix) + 10), np.uint8)
    keys[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
    keys[:, len(prefix) :] = digits + ord("0")
    return keys.view(f"V{keys.shape[1]}").ravel().tolist()


def _changed_chunks(raw: np.ndarray, old: np.ndarray, chunks: np.ndarray, cb: int) -> np.ndarray:
    """Of ``chunks``, those whose ``cb`` bytes differ in ``raw`` from ``old`` (chunks not
    whole in both are kept)."""
    n_cmp = min(raw.shape[0], old.shape[0]) // cb
    both = chunks[chunks < n_cmp]
    if not len(both):
        return chunks
    a = raw[: n_cmp * cb].reshape(n_cmp, cb)[both]
    b = old[: n_cmp * cb].reshape(n_cmp, cb)[both]
    return np.concatenate([both[(a != b).any(axis=1)], chunks[chunks >= n_cmp]])


def _shadow_update(
    shadow: np.ndarray | None, arr: np.ndarray, spec: dict[str, Any], chunks: np.ndarray | None
) -> np.ndarray:
    """The stored copy of ``arr`` after its ``chunks`` were written (a full copy when the
    shape changed or everything was written)."""
    if chunks is None or shadow is None or shadow.shape != arr.shape or shadow.dtype != arr.dtype or arr.ndim == 0:
        return arr.copy()
    rb = _row_bytes(arr)
    if rb == 0 or not len(chunks):
        return shadow
    cb, raw, old = L.chunk_bytes_of(spec, rb), _raw(arr), _raw(shadow)
    n_full = raw.shape[0] // cb
    full = chunks[chunks < n_full]
    old[: n_full * cb].reshape(n_full, cb)[full] = raw[: n_full * cb].reshape(n_full, cb)[full]
    old[n_full * cb :] = raw[n_full * cb :]
    return shadow


def _row_bytes(arr: np.ndarray) -> int:
    return arr.dtype.itemsize * int(np.prod(arr.shape[1:], dtype=np.int64))


def _put_vocab(wb, name: str, ids: list[str], prev_len: int | None) -> int:
    """Vocab is append-only: rewrite the chunks from the previous length onwards
    (only those entries are type-checked; a bad one aborts the unwritten batch)."""
    prefix, v = L.vocab_prefix(name), L.VOCAB_CHUNK
    if prev_len is None or prev_len > len(ids):
        wb.delete_range(prefix, L.prefix_end(prefix))
        start = 0
    elif prev_len == len(ids):
        return 0
    else:
        start = prev_len // v
    n = 0
    for k in range(start, L.n_chunks(len(ids), v)):
        part = list(ids[k * v : (k + 1) * v])
        if not all(isinstance(s, str) for s in part):
            raise TypeError(f"vocab {name} must be a list of str")
        val = L.dumps(part, ascii_only=True)
        wb.put(L.chunk_key(prefix, k), val)
        n += len(val)
    return n
