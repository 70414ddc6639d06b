"""Learning and decision code (pure: no Kafka, no disk except Numba's kernel cache)."""

from pathlib import Path as _Path

from streamrec.online.kernel_cache import drop_stale_caches as _drop_stale_caches

# kernels live here and in ``replay`` (its baselines call ``online`` kernels)
_drop_stale_caches([_Path(__file__).parent, _Path(__file__).parent.parent / "replay"])
