"""Counting baselines: each njit kernel against a pure-numpy twin on small random streams."""

import numpy as np
import pytest

from streamrec.contract.events import ClickEvent
from streamrec.replay.baselines import DecayedPopularity, Popularity, Transitions


def random_stream(seed, n=300, n_users=12, n_items=25, p_impression=0.1):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = np.minimum(rng.zipf(1.6, n) - 1, n_items - 1)  # skewed, many ties and repeats
    types = np.where(rng.random(n) < p_impression, "impression", "click")
    events = [
        ClickEvent(f"e{t}", 1.7e9 + t, f"u{u}", f"i{i}", str(ty))
        for t, (u, i, ty) in enumerate(zip(users, items, types))
    ]
    evaluate = rng.random(n) < 0.7
    return events, evaluate


def twin_ranks(events, evaluate, kind, half_life=None):
    """Dense pure-numpy replay of the protocol (pessimistic ties)."""
    uid, iid = {}, {}
    users = [uid.setdefault(e.user, len(uid)) for e in events]
    items = [iid.setdefault(e.item, len(iid)) for e in events]
    n_u, n_i = len(uid), len(iid)
    seen = np.zeros(n_i, bool)
    had = np.zeros((n_u, n_i), bool)
    pop = np.zeros(n_i)
    dec = np.zeros(n_i, dtype=object)  # exact python numbers (ints when growth is an int)
    trans = np.zeros((n_i, n_i))
    last = np.full(n_u, -1)
    growth = 2 ** (1 / half_life) if half_life else None
    if growth is not None and float(growth).is_integer():
        growth = int(growth)
    ranks = np.zeros(len(events), np.int32)
    for t, (u, i, e) in enumerate(zip(users, items, events)):
        if evaluate[t] and e.is_positive and seen[i] and not had[u, i]:
            cand = seen & ~had[u]
            cand[i] = False
            if kind == "popularity":
                above = pop >= pop[i]
            elif kind == "decayed":
                above = np.array([d >= dec[i] for d in dec])
            else:
                row = trans[last[u]] if last[u] >= 0 else np.zeros(n_i)
                above = (row > row[i]) | ((row == row[i]) & (pop >= pop[i]))
            ranks[t] = 1 + int((cand & above).sum())
        seen[i] = True
        if e.is_positive:
            had[u, i] = True
            if last[u] >= 0:
                trans[last[u], i] += 1
            last[u] = i
            pop[i] += 1
            if growth is not None:
                dec[i] = dec[i] + growth ** (t + 1)
    return ranks


def replay_in_chunks(model, events, evaluate, chunk):
    out = [
        model.evaluate_and_learn(events[lo : lo + chunk], evaluate[lo : lo + chunk])
        for lo in range(0, len(events), chunk)
    ]
    return np.concatenate(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk", [1, 37, 1000])
def test_popularity_kernel_matches_twin(seed, chunk):
    events, evaluate = random_stream(seed)
    got = replay_in_chunks(Popularity(), events, evaluate, chunk)
    np.testing.assert_array_equal(got, twin_ranks(events, evaluate, "popularity"))
    assert (got > 0).sum() > 30  # the stream exercises real rankings, not only misses


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("chunk", [1, 64])
def test_transitions_kernel_matches_twin(seed, chunk):
    events, evaluate = random_stream(seed, n=400)
    got = replay_in_chunks(Transitions(), events, evaluate, chunk)
    np.testing.assert_array_equal(got, twin_ranks(events, evaluate, "transitions"))


@pytest.mark.parametrize("half_life", [0.5, 3.0])
def test_decayed_kernel_matches_twin(half_life):
    # half_life 0.5: growth 4 per event -> exact integers in the twin, and the kernel rescales
    # (4**300 > 1e100) mid-stream; half_life 3: plain float sums.
    events, evaluate = random_stream(5, n=300)
    got = replay_in_chunks(DecayedPopularity(half_life=half_life), events, evaluate, 50)
    np.testing.assert_array_equal(got, twin_ranks(events, evaluate, "decayed", half_life))


def test_transitions_table_grows_past_initial_capacity():
    # many distinct (prev, next) pairs force several rehashes; counts must survive them
    rng = np.random.default_rng(7)
    n = 3000
    events = [ClickEvent(f"e{t}", 1.7e9 + t, f"u{rng.integers(40)}", f"i{rng.integers(300)}") for t in range(n)]
    evaluate = np.ones(n, bool)
    m = Transitions()
    got = replay_in_chunks(m, events, evaluate, 500)
    assert m.n_ent > 1000
    n_users = len({e.user for e in events})
    assert int(m.ent_count[: m.n_ent].sum()) == n - n_users  # every event but each user's first
    np.testing.assert_array_equal(got, twin_ranks(events, evaluate, "transitions"))
