"""Compile the engine's kernels in independent parts, so that parts can compile at once.

``engine_kernel.run_batch`` calls about ten sub-kernels. Numba compiles each once per
argument-type signature and, with ``cache=True``, writes it to the on-disk cache; when
``run_batch`` is compiled later it loads them from there and only compiles its own body
(and links theirs). Each part below compiles a disjoint group of those sub-kernels on a
tiny throwaway engine: the inner kernels (``online.jit``) for the argument types
``run_batch`` passes them (so the signatures are exactly the ones it needs), the others by
calling them. Two processes compiling the two parts at once roughly halve a cold start on
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
    init_new_items,
    learn_event,
    maintain,
    record_event,
)
from streamrec.online.engine_ranking import prepare_user, target_rank, top_candidates
from streamrec.online.item_cache import write_item_rows
from streamrec.online.policies.batch import select_batch
from streamrec.online.policies.epsilon_greedy import EpsilonGreedy
from streamrec.online.recommender import Recommender
from streamrec.online.scoring import clear_transitions

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
    i64, f64, it, sc_t = types.int64, types.float64, typeof(st.items), typeof(sc)
    prepare_user.compile((i64, typeof(ev.ctx_rows), i64, i64, typeof(st), sc_t, typeof(hp), types.boolean))
    target_rank.compile((i64, it, sc_t, i64, i64, i64, f64))
    top_candidates.compile((it, sc_t, i64, i64, i64, f64, typeof(out.idx[0]), typeof(out.score[0]), i64))
    clear_transitions(sc.tr0, sc.tr1, sc.touched, 0)
    select_batch(EpsilonGreedy(0.1), out.score, np.full(len(_EVENTS), 8), 4, np.arange(len(_EVENTS)))


def compile_learn() -> None:
    """The learning side: changed attribute rows, FM step, counts and history, maintenance."""
    rec, ev, item_rows, _ = _tiny_engine()
    st, sc, hp = rec._st, rec._scratch, rec._hyper()
    i64, f64, bundles = types.int64, types.float64, (typeof(st), typeof(sc), typeof(hp))
    write_item_rows.compile((typeof(item_rows), i64, typeof(st.fm), typeof(st.items)))
    learn_event.compile((i64, f64, i64, *bundles, f64))
    record_event.compile((i64, i64, f64, i64, *bundles))
    maintain.compile((i64, typeof(st), typeof(sc), typeof(hp)))


PARTS: dict[str, Callable[[], None]] = {"serve": compile_serve, "learn": compile_learn}


def compile_batch() -> None:
    """``run_batch`` itself (after the parts: it then loads them from the cache)."""
    rec, _, _, _ = _tiny_engine()
    rec.process_batch(_EVENTS, n_candidates=8, rank_before=True)
