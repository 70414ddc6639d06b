"""Compile the engine's kernels in independent parts, so that parts can compile at once.

``engine_kernel.run_batch`` calls a few per-event sub-kernels. Numba compiles each once
per argument-type signature and, with ``cache=True``, writes it to the on-disk cache; when
``run_batch`` is compiled later it loads them from there and only compiles its own (short)
body. Each part below calls a disjoint group of those sub-kernels on a tiny throwaway
engine: the inner kernels (``online.jit``) are compiled for the types of the bundles
``run_batch`` passes (so the signatures are exactly the ones it needs), the kernels Python
calls are called. Two processes compiling the two parts at once roughly halve a cold start on
two cores (``shell.compile_ahead`` runs them).

>>> sorted(PARTS)
['learn', 'serve']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import typeof, types

from streamrec.online.engine_kernel import (
    Outputs,
    emit_top,
    init_new_items,
    learn_step,
    rank_event,
)
from streamrec.online.item_cache import write_item_rows
from streamrec.online.policies.batch import select_batch
from streamrec.online.policies.epsilon_greedy import EpsilonGreedy
from streamrec.online.recommender import Recommender

_EVENTS = [
    {"user": f"u{t % 3}", "item": f"i{t % 4}", "context": {"device": "web"}, "item_attributes": {"genre": "g"}}
    for t in range(6)
]


def _tiny_engine():
    """A throwaway engine, a few encoded events (its state grown to fit) and their outputs."""
    rec = Recommender()
    ev, item_rows = rec.catalog.encode(_EVENTS, None)
    rec._sync_catalog(len(_EVENTS))
    return rec, ev, item_rows, Outputs.empty(len(_EVENTS), 8)


def compile_serve() -> None:
    """The ranking side: new item rows, user side and target rank, top candidates, slates."""
    rec, ev, item_rows, out = _tiny_engine()
    rec._write_item_rows(item_rows, new_only=True)
    st, sc, hp = rec._st, rec._scratch, rec._hyper()
    init_new_items(ev.n_items[0], st, hp)
    i64, bundles = types.int64, (typeof(st), typeof(sc), typeof(hp))
    rank_event.compile((i64, typeof(ev), *bundles, types.boolean, typeof(out)))
    emit_top.compile((i64, typeof(ev), *bundles, i64, typeof(out)))
    select_batch(EpsilonGreedy(0.1), out.score, np.full(len(_EVENTS), 8), 4, np.arange(len(_EVENTS)))


def compile_learn() -> None:
    """The learning side: changed attribute rows, FM step, counts and history, maintenance."""
    rec, ev, item_rows, out = _tiny_engine()
    st, sc, hp = rec._st, rec._scratch, rec._hyper()
    i64 = types.int64
    write_item_rows.compile((typeof(item_rows), i64, typeof(st.fm), typeof(st.items)))
    learn_step.compile((i64, typeof(ev), i64, i64, typeof(st), typeof(sc), typeof(hp), typeof(out)))


PARTS: dict[str, Callable[[], None]] = {"serve": compile_serve, "learn": compile_learn}


def compile_batch() -> None:
    """``run_batch`` itself (after the parts: it then loads them from the cache)."""
    rec, _, _, _ = _tiny_engine()
    rec.process_batch(_EVENTS, n_candidates=8, rank_before=True)
