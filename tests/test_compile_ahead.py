"""Compiling the kernels ahead, in parts: the parts are exactly what ``run_batch`` calls,
and a cold start says what it does once, then loads from the cache."""

from __future__ import annotations

import os
import subprocess
import sys

from numba import njit

from streamrec.online.engine_kernel import emit_top, learn_step, rank_event, run_batch
from streamrec.online.item_cache import write_item_rows
from streamrec.online.kernel_warmup import _tiny_engine, compile_learn, compile_serve


def test_parts_compile_the_signatures_run_batch_needs():
    compile_learn()
    compile_serve()
    fresh = njit(run_batch.py_func)  # no cache: types every call to the parts again
    rec, ev, item_rows, out = _tiny_engine()
    fresh(ev, item_rows, rec._st, rec._scratch, rec._hyper(), True, 8, out)
    assert out.learned.all()
    for kernel in (rank_event, learn_step, emit_top, write_item_rows):
        assert len(kernel.signatures) == 1, kernel  # a second one: the part compiled the wrong types


SCRIPT = "from streamrec.shell.compile_ahead import compile_ahead; print(compile_ahead(print))"


def test_cold_start_compiles_in_parts_and_says_so_once(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    cold = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    lines = cold.stdout.splitlines()
    assert lines[0].startswith("compiling the engine's kernels (first run only")
    assert lines[1].startswith("kernels compiled in ") and float(lines[2]) > 0
    assert any(p.name.startswith("engine_kernel.run_batch") for p in tmp_path.rglob("*.nbi"))
    warm = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    assert warm.stdout.splitlines() == ["None"]
