"""How kernels that only other kernels call are compiled.

Numba builds a CPython wrapper for every compiled function, which unboxes each argument
from Python objects. For the engine's typed bundles (about sixty arrays and thirty scalars
per call) that wrapper is most of a kernel's compile time: about 1.2 s per kernel against
0.1-0.3 s for its body. A kernel that is only called from other kernels needs no wrapper;
:data:`inner_kernel` compiles it without one (and caches it on disk like ``njit(cache=True)``).
Calling such a kernel from Python raises; compile it ahead with ``kernel.compile(signature)``.
"""

from __future__ import annotations

from numba import njit

inner_kernel = njit(cache=True, no_cpython_wrapper=True)
