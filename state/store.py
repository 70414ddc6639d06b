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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np
import rocksdict

from streamrec.online.model_state import ModelState
from streamrec.state import capture as C
from streamrec.state import layout as L
from streamrec.state.disk import live_db_path, raw_items, raw_options

#: memtable size of a store without WAL (its memory is used only as written, freed at each flush)
WAL_OFF_WRITE_BUFFER = 1 << 30


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
        opts = raw_options()
        if not wal:  # one epoch's writes stay in one memtable: a reader of the DB's files sees whole epochs
            opts.set_write_buffer_size(WAL_OFF_WRITE_BUFFER)
        self.db = rocksdict.Rdict(str(self.path), opts, access_type=access)
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
        extra: C.Ops | None = None,
    ) -> int:
        """Write ``state`` (all of it if ``dirty`` is None, else the dirty rows, grown
        rows, new vocab entries and meta) in one atomic batch; returns bytes written.

        ``extra = (puts, delete_ranges)`` adds other keys (outside the model's ``a/``,
        ``v/``, ``m/`` prefixes, e.g. the reward join's ``j/``) to the same batch: the
        ranges are deleted first, then the puts written."""
        before = self._layout
        cap = self.capture(state, dirty, extra)
        try:
            self.apply(cap)
        except BaseException:  # the DB keeps the previous save: forget what the capture assumed
            self._layout = before
            if self._shadow is not None:
                self._shadow = {}
            raise
        return cap.nbytes + len(cap.layout_raw) + len(cap.meta_raw)

    def capture(
        self,
        state: ModelState,
        dirty: Mapping[str, np.ndarray] | None = None,
        extra: C.Ops | None = None,
        alloc: C.Alloc = np.empty,
    ) -> C.Capture:
        """What ``save`` would write, copied out of ``state`` (:mod:`state.capture`); the store
        then assumes it applied (the next capture is a delta to it): ``apply`` it next."""
        cap = C.take(state, dirty, extra, self._layout, self._shadow, self.chunk_bytes, alloc)
        self._layout = cap.layout
        return cap

    def apply(self, cap: C.Capture) -> None:
        """Write a capture in one atomic batch (:func:`state.capture.apply`)."""
        C.apply(self.db, cap)

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
