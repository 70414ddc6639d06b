"""Drop compiled-kernel caches written for other sources of the package.

Numba's on-disk cache (``cache=True``) is invalidated by the source file of the cached
function only. A kernel compiles its callees into itself, so after a callee in another
file changes (an edit, or a ``pip install`` of a new release over an old one) the caller's
cache still holds the old callee's code and is loaded without a word. Here a fingerprint
of every ``.py`` file of the package directories that hold kernels is kept beside their
caches; when it differs, the caches of those directories (``__pycache__/*.nbi``, ``*.nbc``)
are removed and the kernels compile once afresh. Best effort: a directory that cannot be
written is left alone (Numba then caches elsewhere).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()); (d / "k.py").write_text("x = 1")
5
>>> (d / "__pycache__").mkdir(); (d / "__pycache__" / "k.f-1.py311.nbi").write_bytes(b"")
0
>>> drop_stale_caches([d]), drop_stale_caches([d])
(1, 0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

STAMP = "streamrec-sources.stamp"


def sources_fingerprint(dirs: Iterable[Path]) -> str:
    """Hash of the names and bytes of every ``.py`` file under ``dirs``."""
    h = hashlib.blake2b(digest_size=16)
    for d in dirs:
        for p in sorted(d.rglob("*.py")):
            h.update(str(p.relative_to(d)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def drop_stale_caches(dirs: list[Path]) -> int:
    """Remove the kernel caches under ``dirs`` unless they were written for the current
    sources; returns the number of files removed."""
    stamp = dirs[0] / "__pycache__" / STAMP
    current = sources_fingerprint(dirs)
    try:
        if stamp.read_text() == current:
            return 0
    except OSError:
        pass
    removed = 0
    for d in dirs:
        for p in [*d.rglob("__pycache__/*.nbi"), *d.rglob("__pycache__/*.nbc")]:
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
    try:
        stamp.parent.mkdir(exist_ok=True)
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(current)
        tmp.replace(stamp)
    except OSError:
        pass
    return removed
