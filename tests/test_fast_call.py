"""``FastCall`` skips the dispatcher's type resolution only while the key holds, and the
engine's per-batch bundles always have the types it resolved once."""

from __future__ import annotations

import numpy as np
from numba import njit

from streamrec.online.engine_kernel import Outputs, run_batch
from streamrec.online.jit import FastCall
from streamrec.online.recommender import Recommender, RecommenderConfig


@njit
def _total(x):
    return x.sum() * 2


def test_fast_call_resolves_again_when_the_key_changes():
    call = FastCall(_total)
    floats, ints = np.array([0.5, 1.25]), np.array([3, 4], np.int64)
    assert call((floats,), floats) == 3.5
    assert call((floats,), floats) == 3.5  # through the remembered entry point
    assert call((ints,), ints) == 14 and isinstance(call((ints,), ints), int)
    assert len(_total.signatures) == 2


def _events(n: int, seed: int, n_items: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "user": f"u{rng.integers(30)}",
            "item": f"i{rng.integers(n_items)}",
            "ts": 1.7e9 + t,
            "type": "click" if t % 5 else "impression",
            "context": {"d": "web" if t % 2 else "app"},
            **({"item_attributes": {"cat": f"c{t % 3}"}} if t % 7 == 0 else {}),
        }
        for t in range(n)
    ]


def test_batch_bundles_have_one_numba_type_whatever_the_batch():
    """The entry point is remembered per engine state: every other argument must keep its type."""
    rec = Recommender(RecommenderConfig(n_buckets=4096, k=4))
    rec.process_batch(_events(50, 0, 20))
    evaluate_views = [
        None,
        np.ones(12, np.bool_)[::1],
        np.ones(24, np.bool_)[::2],
        np.frombuffer(b"\x01" * 12, np.bool_),
    ]
    seen = set()
    for n, evaluate in [
        (0, None),
        (1, None),
        (12, evaluate_views[1]),
        (12, evaluate_views[2]),
        (12, evaluate_views[3]),
    ]:
        batch, item_rows = rec.catalog.encode(_events(n, n + 1, 40), evaluate)
        out = Outputs.empty(n, 8)
        seen.add(tuple(run_batch.typeof_pyval(a) for a in (batch, item_rows, out, True, 8)))
        rec.catalog.take_item_rows()
    assert len(seen) == 1, seen


def test_engine_through_fast_call_equals_the_dispatcher_across_growth():
    """Both engines grow their arrays (new state bundles: new keys) along the way."""
    fast, slow = (
        Recommender(RecommenderConfig(n_buckets=4096, k=4)),
        Recommender(RecommenderConfig(n_buckets=4096, k=4)),
    )
    slow._run_batch = lambda _key, *args: run_batch(*args)
    events = _events(3000, 7, 600)
    states = set()
    for lo in range(0, len(events), 150):
        a = fast.process_batch(events[lo : lo + 150], n_candidates=10)
        b = slow.process_batch(events[lo : lo + 150], n_candidates=10)
        np.testing.assert_array_equal(a.cand_idx, b.cand_idx)
        np.testing.assert_array_equal(a.cand_scores, b.cand_scores)
        states.add(id(fast.state))
    assert len(states) > 1  # the state was replaced (grown) at least once
    sa, sb = fast.export_state(), slow.export_state()
    for name, arr in sa.arrays.items():
        np.testing.assert_array_equal(arr, sb.arrays[name], err_msg=name)
