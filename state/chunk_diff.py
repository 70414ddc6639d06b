"""Which chunks of an array changed since a shadow copy, in one pass that updates the copy.

``diff_run(raw, old, chunks, cb)``: of the ``cb``-byte chunks ``chunks`` of the byte array
``raw``, those that differ from ``old``, copied out; ``old`` receives them. For ``cb`` a
multiple of 8 one nogil kernel compares each candidate word by word, stops at the first
difference, and copies a changed chunk to the output and to ``old`` (an unchanged chunk
costs two reads, a changed one two reads and two writes); otherwise numpy compares rows.
Measured on 64 MB of candidates, half changed: 16-22 ms, 56 ms when the output buffer is
fresh memory (page faults), hence the ``alloc`` hook (``state.epoch_commit.BufferPool``).
``diff_runs`` diffs candidates of 1 MB or more in two halves at once, one in a helper
thread (the kernel releases the GIL): an epoch's capture, the event path's one pause per
epoch, went from 28-43 to 18-22 ms at 20k items (in-process, 10k events per epoch).

>>> import numpy as np
>>> old = np.zeros(64, np.uint8); new = old.copy(); new[17] = 1
>>> idx, data = diff_run(new, old, np.arange(4), 16)
>>> idx.tolist(), data.shape, bool((old == new).all())
([1], (1, 16), True)
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numba import njit

#: candidates of at least this many bytes are diffed in two halves at once
SPLIT_BYTES = 1 << 20
_HELPER: ThreadPoolExecutor | None = None


def diff_runs(
    raw: np.ndarray, old: np.ndarray, full: np.ndarray, cb: int, alloc: Callable[[int, Any], np.ndarray] = np.empty
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`diff_run` of ``full``, in two threads when it is large: one or two
    ``(chunk numbers, bytes)`` pieces, ascending."""
    global _HELPER
    if cb % 8 or len(full) * cb < SPLIT_BYTES:
        return [diff_run(raw, old, full, cb, alloc)]
    if _HELPER is None:
        _HELPER = ThreadPoolExecutor(1, thread_name_prefix="chunk-diff")
    half = len(full) // 2
    second = _HELPER.submit(diff_run, raw, old, full[half:], cb, alloc)
    return [diff_run(raw, old, full[:half], cb, alloc), second.result()]


def diff_run(
    raw: np.ndarray, old: np.ndarray, full: np.ndarray, cb: int, alloc: Callable[[int, Any], np.ndarray] = np.empty
) -> tuple[np.ndarray, np.ndarray]:
    """(chunk numbers, ``(n, cb)`` bytes) of the chunks ``full`` (ascending, whole) whose ``cb``
    bytes differ between the byte arrays ``raw`` and ``old``; ``old`` gets them."""
    if cb % 8 == 0:
        w = cb // 8
        out = alloc(len(full) * w, np.uint64)
        idx = np.empty(len(full), np.int64)
        n = diff_chunks(_words(raw), _words(old), full, w, out, idx)
        return idx[:n], out[: n * w].view(np.uint8).reshape(n, cb)
    n_full = raw.shape[0] // cb
    a, b = raw[: n_full * cb].reshape(n_full, cb), old[: n_full * cb].reshape(n_full, cb)
    changed = full[(a[full] != b[full]).any(axis=1)]
    b[changed] = a[changed]
    return changed, a[changed]


@njit("int64(uint64[::1], uint64[::1], int64[::1], int64, uint64[::1], int64[::1])", cache=True, nogil=True)
def diff_chunks(cur, old, cands, w, out, out_idx):  # pragma: no cover - compiled
    """Copy each candidate chunk (``w`` words) that differs between ``cur`` and ``old`` to
    ``out`` and to ``old``; its number to ``out_idx``; returns how many."""
    k = 0
    for c in cands:
        base = c * w
        j = 0
        while j < w and cur[base + j] == old[base + j]:
            j += 1
        if j < w:
            o = k * w
            for i in range(w):
                v = cur[base + i]
                out[o + i] = v
                old[base + i] = v
            out_idx[k] = c
            k += 1
    return k


def _words(raw: np.ndarray) -> np.ndarray:
    return raw[: raw.shape[0] // 8 * 8].view(np.uint64)
