"""Kernel caches compiled for other sources are dropped (a callee edited in another file)."""

from __future__ import annotations

from pathlib import Path

from streamrec.online.kernel_cache import drop_stale_caches


def _cache(d: Path, name: str) -> Path:
    p = d / "__pycache__" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(b"compiled")
    return p


def test_caches_survive_unchanged_sources_and_go_when_any_file_changes(tmp_path):
    a, b = tmp_path / "online", tmp_path / "replay"
    for d in (a, b):
        d.mkdir()
    (a / "caller.py").write_text("def f(): return g()\n")
    (b / "callee.py").write_text("def g(): return 1\n")
    drop_stale_caches([a, b])  # first run: no stamp yet
    kept = [_cache(a, "caller.f-1.py311.nbi"), _cache(b, "callee.g-1.py311.1.nbc")]
    assert drop_stale_caches([a, b]) == 0 and all(p.exists() for p in kept)
    (b / "callee.py").write_text("def g(): return 2\n")  # only the callee's file changes
    assert drop_stale_caches([a, b]) == 2 and not any(p.exists() for p in kept)
    (a / "__pycache__" / "caller.cpython-311.pyc").write_bytes(b"")  # not a kernel cache
    assert drop_stale_caches([a, b]) == 0 and (a / "__pycache__" / "caller.cpython-311.pyc").exists()
