"""Redo files: a :class:`state.capture.Capture` on disk, so an epoch survives before RocksDB has it.

Format of ``epochs/e<seq:012d>.redo`` (sequential writes, never pickled)::

    b"SRREDO1\\n"  part [part]  [b"SEAL" u32 crc32]
    part = u32 header length  header (JSON)  payload

A part is one capture. Its header holds the epoch, the capture's digest, whether it is
``full`` (needs no base state), the boot id of the machine, the layout and meta, each chunk
run's prefix, chunk size and count, and the byte length of every payload section: range
keys, put keys, put values (each a length table + the bytes), then per run its chunk numbers
(``<i8``) and chunk bytes. An epoch with pre-copies has a part per pre-copy and one more:
the pre-copies' thread writes theirs (``start``; each header says ``"more": true``) while
events go on, and the commit appends the last (``write(..., after=...)``); reading chains
them in order (:func:`state.capture.chain`). Files of one part are as before parts existed.

Recycling: an applied redo file is not deleted but kept (``recycle``, at most ``KEEP_FREE``
of them, named ``e<seq>.redo.free``), and ``write`` overwrites one in place, as databases
recycle their log segments. Overwriting pages the page cache already holds is a copy;
a new file takes fresh pages, which on this project's VMs cost ~2 ms per MB (measured:
60 MB in 7-9 ms in place, 127-153 ms into a new file).

Durability: ``write`` returns once the bytes are in the page cache -- the file then survives
a kill of the process, not a machine crash. ``seal`` (done by the background commit) appends
the CRC-32 of everything before it and fsyncs (and hands the parsed file to the commit, so
the file is read and hashed once). ``read`` accepts a sealed file whose CRC
matches, or an unsealed one of exactly the declared length written since the machine last
booted (the page cache still holds what was written); anything else raises
:class:`RedoError` naming the file.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from streamrec.state.capture import Capture, ChunkRun, chain

MAGIC = b"SRREDO1\n"
SEAL = b"SEAL"
FREE_SUFFIX = ".free"
KEEP_FREE = 2
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class RedoError(ValueError):
    """A redo file is missing, torn, unsealed after a machine restart, or malformed."""


class RedoMissing(RedoError, FileNotFoundError):
    """The redo file is not there."""


def boot_id() -> str:
    """This boot of the machine ('' where the OS does not tell)."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _table(items: list[bytes]) -> list[bytes | np.ndarray]:
    return [np.fromiter(map(len, items), np.int64, len(items)), b"".join(items)]


def start(path: Path, cap: Capture, epoch: int, after: int = 0) -> int:
    """Write ``cap`` as a part of ``epoch``'s redo file that more parts follow, into
    ``<name>.tmp`` (an epoch's pre-copies do, in their thread): the first part, or with
    ``after`` (what the call before returned) the next one. Returns where the part ends, for
    the next part or :func:`write`'s last one. Until then the file has no name of its own,
    and read whole it is torn."""
    with _part_file(path, after) as fh:
        _write_part(fh, cap, epoch, more=True)
        return fh.tell()


def write(path: Path, cap: Capture, epoch: int, after: int = 0) -> int:
    """Write ``cap`` as the redo file of ``epoch`` (page cache only; see ``seal``), or, with
    ``after`` (what :func:`start` returned), as the last part after the first; returns its size."""
    with _part_file(path, after) as fh:
        _write_part(fh, cap, epoch, more=False)
        size = fh.tell()
        fh.truncate()  # a recycled file may have been longer
    os.replace(_tmp(path), path)  # a file under the final name is whole (after a process kill)
    return size


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _part_file(path: Path, after: int) -> BinaryIO:
    """``<name>.tmp`` of the redo file ``path`` opened for writing its next part: at ``after``
    (where the part before ended), or with ``after`` 0 fresh -- holding just ``MAGIC``, in a
    recycled file overwritten in place if there is one, else a new file."""
    tmp = _tmp(path)
    if after:
        fh: BinaryIO = open(tmp, "r+b")  # noqa: SIM115 -- the caller closes it
        fh.seek(after)
    else:
        fh = open(tmp, "r+b" if _take_free(path.parent, tmp) else "wb")  # noqa: SIM115
        fh.write(MAGIC)
    return fh


def _write_part(fh: BinaryIO, cap: Capture, epoch: int, more: bool) -> None:
    """One part: its header's length, the header, the payload sections."""
    sections: list[Any] = _table([k for r in cap.ranges for k in r])
    sections += _table([k for k, _ in cap.puts]) + _table([v for _, v in cap.puts])
    for run in cap.runs:
        sections += [run.idx.astype("<i8", copy=False), run.data]
    header = {
        "epoch": epoch,
        "digest": cap.digest(),
        "full": cap.full,
        "boot": boot_id(),
        "layout": cap.layout_raw.decode(),
        "meta": cap.meta_raw.decode(),
        "runs": [[r.prefix.decode(), r.cb, len(r.idx)] for r in cap.runs],
        "sizes": [memoryview(s).nbytes for s in sections],
    }
    if more:
        header["more"] = True
    head = json.dumps(header, separators=(",", ":")).encode()
    fh.write(struct.pack("<I", len(head)) + head)
    for s in sections:
        if memoryview(s).nbytes:
            fh.write(memoryview(s).cast("B"))


def recycle(path: Path) -> None:
    """Done with the redo file ``path``: keep it for a later ``write`` to overwrite (or
    delete it if ``KEEP_FREE`` are kept already)."""
    if len(list(path.parent.glob("*.redo" + FREE_SUFFIX))) >= KEEP_FREE:
        path.unlink()
    else:
        os.replace(path, path.with_name(path.name + FREE_SUFFIX))


def _take_free(folder: Path, tmp: Path) -> bool:
    """Rename a recycled redo file of ``folder`` to ``tmp``; False if there is none."""
    for free in sorted(folder.glob("*.redo" + FREE_SUFFIX)):
        try:
            os.replace(free, tmp)
            return True
        except FileNotFoundError:  # taken meanwhile
            continue
    return False


def seal(path: Path) -> tuple[dict[str, Any], Capture]:
    """Append the CRC-32 trailer (unless sealed already) and fsync the file; returns its
    (header, capture) as :func:`read` would, from the one read of the file the CRC needs."""
    with open(path, "r+b") as fh:
        raw = fh.read()
        header, cap, end = _checked(path, raw)
        if not _is_sealed(raw, end):
            fh.write(SEAL + struct.pack("<I", zlib.crc32(raw)))  # GIL released while hashing
            fh.flush()
        os.fsync(fh.fileno())
    return header, cap


def read(path: Path) -> tuple[dict[str, Any], Capture]:
    """(header, capture) of a redo file; raises :class:`RedoError` naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RedoMissing(f"redo file {path} is missing") from None
    header, cap, _ = _checked(path, raw)
    return header, cap


def _checked(path: Path, raw: bytes) -> tuple[dict[str, Any], Capture, int]:
    try:
        return _parse(path, raw)
    except RedoError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
        raise RedoError(f"redo file {path} is malformed: {str(exc)[:80]}") from None


def _parts(path: Path, raw: bytes) -> tuple[list[tuple[dict[str, Any], int]], int]:
    """Each part's (header, where its payload starts), and where the last part ends (the
    seal, if any, follows). A part whose header says ``more`` is followed by another."""
    if not raw.startswith(MAGIC):
        raise RedoError(f"redo file {path} is torn or not a redo file")
    parts, pos = [], len(MAGIC)
    while True:
        if len(raw) < pos + 4:
            raise RedoError(f"redo file {path} is torn or not a redo file")
        (hlen,) = struct.unpack_from("<I", raw, pos)
        start = pos + 4 + hlen
        header = json.loads(raw[pos + 4 : start])
        parts.append((header, start))
        pos = start + sum(int(x) for x in header["sizes"])
        if not header.get("more"):
            return parts, pos


def _is_sealed(raw: bytes, end: int) -> bool:
    """Whether a seal follows the payload that ends at ``end``."""
    return len(raw) == end + 8 and raw[end : end + 4] == SEAL


def _parse(path: Path, raw: bytes) -> tuple[dict[str, Any], Capture, int]:
    """(last part's header, the parts' captures chained, where the payload ends)."""
    parts, end = _parts(path, raw)
    header = parts[-1][0]
    if _is_sealed(raw, end):
        if zlib.crc32(memoryview(raw)[:end]) != struct.unpack_from("<I", raw, end + 4)[0]:
            raise RedoError(f"redo file {path} is corrupt (checksum mismatch)")
    elif len(raw) != end:
        raise RedoError(f"redo file {path} is torn ({len(raw)} bytes, its header says {end})")
    elif not header["boot"] or header["boot"] != boot_id():
        raise RedoError(f"redo file {path} was never sealed (fsynced) and the machine restarted since: not trusted")
    caps = [_capture(path, memoryview(raw), h, start) for h, start in parts]
    cap = caps[0]
    for then in caps[1:]:
        cap = chain(cap, then)
    return header, cap, end


def _capture(path: Path, buf: memoryview, header: dict[str, Any], pos: int) -> Capture:
    """The capture of the part whose payload starts at ``pos``."""
    parts = []
    for size in header["sizes"]:
        parts.append(buf[pos : pos + int(size)])
        pos += int(size)
    rk, pk, pv = (_untable(parts[i], parts[i + 1]) for i in (0, 2, 4))
    cap = Capture({}, header["layout"].encode(), header["meta"].encode(), bool(header["full"]))
    cap.layout = json.loads(cap.layout_raw)
    cap.ranges = list(zip(rk[0::2], rk[1::2]))
    cap.puts = list(zip(pk, pv))
    for k, (prefix, cb, n) in enumerate(header["runs"]):
        idx, data = parts[6 + 2 * k], parts[7 + 2 * k]
        if idx.nbytes != 8 * n or data.nbytes != n * cb:
            raise RedoError(f"redo file {path}: chunk run {prefix} has wrong sizes")
        cap.runs.append(
            ChunkRun(prefix.encode(), int(cb), np.frombuffer(idx, "<i8"), np.frombuffer(data, np.uint8).reshape(n, cb))
        )
    if cap.puts[-2:] != [(b"m/layout", cap.layout_raw), (b"m/meta", cap.meta_raw)] or cap.digest() != header["digest"]:
        raise RedoError(f"redo file {path}: layout/meta do not match its digest")
    return cap


def _untable(lengths: memoryview, blob: memoryview) -> list[bytes]:
    ends = np.cumsum(np.frombuffer(lengths, "<i8"))
    if (ends[-1] if len(ends) else 0) != blob.nbytes:
        raise ValueError("length table does not match its bytes")
    b = bytes(blob)
    return [b[s:e] for s, e in zip(np.concatenate([[0], ends[:-1]]).tolist(), ends.tolist())]
