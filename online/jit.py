"""How the engine's inner kernels are compiled (cold-start cost, not speed).

Numba compiles every jitted function into a library of its own and links the bitcode of
all its callees into it, so each level of calls optimizes and generates code for its whole
subtree again. Two ways to spend less of that:

- a kernel with a single call site is declared ``inline="always"``: its code lands in the
  caller either way, compiling it apart too was wasted;
- a kernel only other kernels call needs no CPython wrapper (the code that unboxes every
  argument from Python objects; for the engine's bundles, about sixty arrays and thirty
  scalars, 0.3-1 s of compile per kernel). :data:`inner_kernel` compiles without one and
  caches on disk like ``njit(cache=True)``. Calling such a kernel from Python raises;
  compile it ahead with ``kernel.compile(signature)`` (``online.kernel_warmup``).

Speed: the engine's kernels compile with ``_nrt=False, error_model="numpy"`` (no Numba runtime). With it, every
call that passes the bundles, and every row view (``v[r]``), incremented and decremented the
reference count of each array with an atomic instruction: ~40% of the replay's kernel time
went to ``NRT_incref``/``NRT_decref`` (``perf``). Without it the kernels may not allocate:
work buffers live in ``online.scratch.Scratch``. A function that returns a new array (such
as ``hashing.mix64`` on arrays, ``retrieval.ivf_build``) keeps the runtime and is never
called from an engine kernel. They also use ``error_model="numpy"``: a division by zero gives
inf/NaN (which the updates already skip) instead of a zero test before every division, which
kept loops such as ``latent_step`` from vectorising (~20% of the kernel time).

Concurrency: they compile with ``nogil=True``: a kernel called from Python releases the GIL
for its whole run, so other Python threads of the process (the epoch commit writing
RocksDB in the background, a second Bytewax worker thread) run meanwhile. The engine's
state is still touched by one thread at a time (the one Bytewax worker that owns it).
"""

from __future__ import annotations

import operator
from typing import Any

from numba import njit


def kernel(**options: Any) -> Any:
    """``njit`` with the engine's flags (cached on disk, no Numba runtime, NumPy division
    semantics, GIL released) and ``options`` (``inline``, ``fastmath``, ...): the one
    decorator of the engine's kernels."""
    return njit(cache=True, _nrt=False, error_model="numpy", nogil=True, **options)  # type: ignore[call-overload]


inner_kernel = kernel(no_cpython_wrapper=True)


class FastCall:
    """A kernel called again and again with arguments of the same types, without the
    dispatcher's per-call type resolution (for the engine's bundles, about a hundred arrays
    to fingerprint: ~30 µs a call, more than a small batch's work).

    ``call(key, *args)``: the first call for a ``key`` goes through the dispatcher (which
    compiles if needed), then looks up the compiled entry point of the signature it
    resolved; later calls with the same ``key`` (compared by identity, element by element)
    call that entry point directly. The caller's key must fix every argument's Numba type:
    the engine keys on its long-lived bundles (state, scratch, hyper-parameters), and the
    per-batch bundles are built with fixed dtypes, layouts and Python scalar types.
    """

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self._key: tuple = ()
        self._entry: Any = None

    def __call__(self, key: tuple, *args: Any) -> Any:
        """``dispatcher(*args)``, through the remembered entry point while ``key`` holds."""
        if self._entry is not None and len(key) == len(self._key) and all(map(operator.is_, key, self._key)):
            return self._entry(*args)
        result = self.dispatcher(*args)
        types = tuple(self.dispatcher.typeof_pyval(a) for a in args)
        cres = self.dispatcher.overloads.get(types)
        self._key, self._entry = (key, cres.entry_point) if cres is not None else ((), None)
        return result
