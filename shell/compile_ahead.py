"""Compile the engine's kernels before the first event, on two cores at once.

On a cold Numba cache (the first run after an install or after a change to the kernels)
the engine's kernels take about 45 s of CPU to compile, one after the other. Here a child
process compiles one part (``online.kernel_warmup.PARTS``) while this process compiles the
other, both writing to Numba's on-disk cache; this process then compiles ``run_batch``,
which loads both parts from the cache. On a warm cache nothing is compiled and the kernels
load when first called. Run one part by hand: ``python -m streamrec.shell.compile_ahead serve``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from streamrec.online.engine_kernel import run_batch
from streamrec.online.kernel_warmup import PARTS, compile_batch


def kernels_cached() -> bool:
    """True unless the on-disk cache lacks ``run_batch`` (a cold start). Without a disk
    cache (caching off) a second process cannot help, so that counts as cached too."""
    try:
        return bool(run_batch._cache._cache_file._load_index())
    except AttributeError:
        return True


def compile_ahead(say: Callable[[str], None] = lambda _: None) -> float | None:
    """Compile every kernel of the live path on a cold cache; returns the seconds it took,
    or ``None`` when the cache was warm. ``say`` gets one line before and one after."""
    if kernels_cached():
        return None
    say("compiling the engine's kernels (first run only; about half a minute on two cores) ...")
    t0 = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "streamrec.shell.compile_ahead", "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        PARTS["learn"]()
    finally:
        child.wait()  # a failed child only costs time: run_batch compiles what is missing
    compile_batch()
    seconds = time.monotonic() - t0
    say(f"kernels compiled in {seconds:.0f} s; later runs load them from the cache")
    return seconds


if __name__ == "__main__":
    PARTS[sys.argv[1]]()
