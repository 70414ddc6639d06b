"""Neighbourhood anchors (item-kNN, SKNN, V-SKNN, EASE): kernels against pure-numpy twins, behaviour.

The twins recompute every score from scratch (dense matrices, Python sets) in their own
summation order, so floating-point near-ties may be ordered differently: each kernel rank
must lie in the twin's interval [rank counting only items surely above the target (higher
score, or an exactly equal score and popularity >= the target's), rank also counting
near-ties (0 < |diff| <= 1e-9)], and most intervals must be a single rank.
"""

import itertools
import math

import numpy as np
import pytest

from streamrec.contract.events import ClickEvent
from streamrec.replay.baselines import EASE, SKNN, VSKNN, EASETransitions, ItemKNN

EPS = 1e-9


def random_stream(seed, n=400, n_users=15, n_items=30, p_impression=0.1):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = np.minimum(rng.zipf(1.4, n) - 1, n_items - 1)  # skewed: repeats and many ties
    types = np.where(rng.random(n) < p_impression, "impression", "click")
    events = [
        ClickEvent(f"e{t}", 1.7e9 + t, f"u{u}", f"i{i}", str(ty))
        for t, (u, i, ty) in enumerate(zip(users, items, types))
    ]
    return events, rng.random(n) < 0.7


def replay_in_chunks(model, events, evaluate, chunk):
    out = [
        model.evaluate_and_learn(events[lo : lo + chunk], evaluate[lo : lo + chunk])
        for lo in range(0, len(events), chunk)
    ]
    return np.concatenate(out)


def twin(events, evaluate, score_fn, learn_fn=None):
    """Protocol loop; ``score_fn(state, u)`` -> dense scores; returns (rank_lo, rank_hi) per event."""
    uid, iid = {}, {}
    users = [uid.setdefault(e.user, len(uid)) for e in events]
    items = [iid.setdefault(e.item, len(iid)) for e in events]
    st = {
        "hist": [[] for _ in uid],
        "pop": np.zeros(len(iid)),
        "n_seen": 0,
        "t": 0,
        "n_items": len(iid),
        "items": items,
    }
    lo = np.zeros(len(events), np.int64)
    hi = np.zeros(len(events), np.int64)
    for t, (u, i, e) in enumerate(zip(users, items, events)):
        st["t"] = t
        had = set(st["hist"][u])
        if evaluate[t] and e.is_positive and i < st["n_seen"] and i not in had:
            s = score_fn(st, u)
            cand = np.zeros(len(iid), bool)
            cand[: st["n_seen"]] = True
            cand[list(had | {i})] = False
            d = s - s[i]
            sure = (d > EPS) | ((d == 0) & (st["pop"] >= st["pop"][i]))
            near = (np.abs(d) <= EPS) & (d != 0)
            lo[t] = 1 + int((cand & sure).sum())
            hi[t] = lo[t] + int((cand & near).sum())
        st["n_seen"] = max(st["n_seen"], i + 1)
        if e.is_positive:
            if learn_fn:
                learn_fn(st, u, i)
            st["hist"][u].append(i)
            st["pop"][i] += 1
    return lo, hi


def assert_within(got, lo, hi):
    assert ((lo <= got) & (got <= hi)).all(), np.flatnonzero((got < lo) | (got > hi))
    ranked = lo > 0
    assert ranked.sum() > 40  # real rankings, not only misses
    assert (lo[ranked] == hi[ranked]).mean() > 0.8  # the interval mostly pins the rank


def query(st, u, n, decay):
    recent = st["hist"][u][::-1][:n]
    return recent, [decay**a for a in range(len(recent))]


def binary_matrix(st):
    x = np.zeros((len(st["hist"]), st["n_items"]))
    for u, h in enumerate(st["hist"]):
        x[u, h] = 1.0
    return x


def item_knn_twin(events, evaluate, n=5, decay=0.8):
    def score(st, u):
        x = binary_matrix(st)
        co = x.T @ x
        norm = np.sqrt(np.maximum(np.diag(co), 1.0))
        sim = co / np.outer(norm, norm)
        q, w = query(st, u, n, decay)
        return sum((wa * sim[h] for h, wa in zip(q, w)), np.zeros(st["n_items"]))

    return twin(events, evaluate, score)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk", [1, 37, 1000])
def test_item_knn_kernel_matches_twin(seed, chunk):
    events, evaluate = random_stream(seed)
    got = replay_in_chunks(ItemKNN(query_len=5, decay=0.8), events, evaluate, chunk)
    assert_within(got, *item_knn_twin(events, evaluate))


def session_twin(events, evaluate, k, block, n, weighted):
    def learn(st, u, i):
        blocks = st.setdefault("blocks", [])
        own = st.setdefault("open", {})
        b = own.get(u)
        if b is not None and i in blocks[b][1]:
            return
        if b is None or len(blocks[b][1]) == block:
            own[u] = b = len(blocks)
            blocks.append((u, []))
        blocks[b][1].append(i)

    def score(st, u):
        q, _ = query(st, u, n, 1.0)
        sims = {}
        for b, (bu, its) in enumerate(st.get("blocks", [])):
            if bu == u or not q:
                continue
            if weighted:
                s = sum((len(q) - a) / len(q) for a, h in enumerate(q) if h in its)
            else:
                s = sum(1 for h in q if h in its) / math.sqrt(len(q) * len(its))
            if s > 0:
                sims[b] = s
        out = np.zeros(st["n_items"])
        for b in sorted(sims, key=lambda b: (-sims[b], b))[:k]:
            out[st["blocks"][b][1]] += sims[b]
        return out

    return twin(events, evaluate, score, learn)


@pytest.mark.parametrize("model", [SKNN, VSKNN])
@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("chunk", [1, 64])
def test_session_knn_kernel_matches_twin(model, seed, chunk):
    events, evaluate = random_stream(seed)
    got = replay_in_chunks(model(k=3, block=4, query_len=5), events, evaluate, chunk)
    assert_within(got, *session_twin(events, evaluate, 3, 4, 5, model.weighted))


def ease_twin(events, evaluate, lam, every, n, beta):
    def learn(st, u, i):
        st.setdefault("log", []).append((st["t"], u, i))

    def score(st, u):
        t0 = st["t"] - st["t"] % every  # last refit: before event t0, on events 0..t0-1
        out = np.zeros(st["n_items"])
        if t0 > 0:
            m = max(st["items"][:t0]) + 1
            x = np.zeros((len(st["hist"]), m))
            for s, u2, i2 in st.get("log", []):
                if s < t0:
                    x[u2, i2] = 1.0
            p = np.linalg.inv(x.T @ x + lam * np.eye(m))
            b = np.eye(m) - p / np.diag(p)
            q, w = query(st, u, n, 0.9)
            for h, wa in zip(q, w):
                if h < m:
                    out[:m] += wa * b[h]
        h = st["hist"][u]
        if beta and h:
            row = np.zeros(st["n_items"])
            pairs = [(a, b2) for hist in st["hist"] for a, b2 in itertools.pairwise(hist) if a == h[-1]]
            for _, j in pairs:
                row[j] += 1
            if pairs:
                out += beta * row / len(pairs)
        return out

    return twin(events, evaluate, score, learn)


@pytest.mark.parametrize("model", [EASE, EASETransitions])
@pytest.mark.parametrize("every,chunk", [(1, 50), (17, 1), (17, 40), (50, 1000)])
def test_ease_kernel_matches_twin(model, every, chunk):
    events, evaluate = random_stream(4, n=300)
    m = model(lam=3.0, retrain_every=every, query_len=5)
    got = replay_in_chunks(m, events, evaluate, chunk)
    assert_within(got, *ease_twin(events, evaluate, 3.0, every, 5, m.beta))


def click_log(pairs):
    return [ClickEvent(f"e{n}", 1.7e9 + n, u, i) for n, (u, i) in enumerate(pairs)]


def test_item_knn_trusts_the_latest_item_most():
    # p co-occurs with old item x, q with recent item y; c had x then y: q must lead
    pairs = [("a", "x"), ("a", "p"), ("b", "y"), ("b", "q"), ("c", "x"), ("c", "y"), ("c", "q")]
    ranks = ItemKNN().evaluate_and_learn(click_log(pairs), np.ones(7, bool))
    assert ranks[-1] == 1
    flipped = [("a", "x"), ("a", "p"), ("b", "y"), ("b", "q"), ("c", "y"), ("c", "x"), ("c", "q")]
    assert ItemKNN().evaluate_and_learn(click_log(flipped), np.ones(7, bool))[-1] == 2


def test_session_knn_never_uses_the_users_own_blocks():
    # only u's own history links x and y; with no other user, y falls back to popularity
    pairs = [("u", "x"), ("u", "y"), ("v", "z"), ("v", "z2"), ("v", "z3"), ("u", "x2"), ("w", "z2"), ("u", "y")]
    for model in (SKNN(), VSKNN()):
        got = model.evaluate_and_learn(click_log(pairs[:6]), np.ones(6, bool))
        assert got[5] == 0  # x2 never seen before: a miss
    pairs = [("u", "x"), ("u", "y"), ("v", "z"), ("v", "z2"), ("w", "y"), ("w", "z2"), ("u", "z2")]
    for model in (SKNN(), VSKNN()):
        # u's query {x, y} meets w's block {y} only: z2 (in w's block) beats z (popularity 1)
        assert model.evaluate_and_learn(click_log(pairs), np.ones(7, bool))[-1] == 1


def test_ease_refits_only_at_the_interval():
    pairs = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("c", "w"), ("e", "w"), ("f", "w"), ("d", "x"), ("d", "y")]
    evaluate = np.zeros(9, bool)
    evaluate[-1] = True
    # refit before event 8 (x -> y seen twice): y first for d; never refit: w (popularity 3) first
    assert EASE(lam=1.0, retrain_every=4).evaluate_and_learn(click_log(pairs), evaluate)[-1] == 1
    assert EASE(lam=1.0, retrain_every=100).evaluate_and_learn(click_log(pairs), evaluate)[-1] == 2


@pytest.mark.parametrize("model", [ItemKNN, SKNN, VSKNN, EASE, EASETransitions])
def test_empty_chunks_and_bad_settings(model):
    m = model()
    assert m.evaluate_and_learn([], np.zeros(0, bool)).shape == (0,)
    events, evaluate = random_stream(9, n=60)
    assert m.evaluate_and_learn(events, evaluate).shape == (60,)
    bad = {"query_len": 0} if model is ItemKNN else {"k": 0} if model in (SKNN, VSKNN) else {"lam": 0}
    with pytest.raises(ValueError):
        model(**bad)


def test_replay_cli_runs_every_anchor(tmp_path, capsys):
    import argparse
    import json

    from streamrec.replay.movielens import write_jsonl
    from streamrec.shell.replay_commands import add_replay_parser

    log = tmp_path / "log.jsonl"
    write_jsonl(random_stream(2, n=200)[0], log)
    ap = argparse.ArgumentParser()
    add_replay_parser(ap.add_subparsers())
    args = ap.parse_args(
        ["replay", str(log), "--models", "item-knn,vsknn,sknn,ease,ease-trans", "--out", str(tmp_path / "m.json")]
    )
    assert args.func(args) == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert set(data["models"]) == {"item-knn", "vsknn", "sknn", "ease", "ease-trans"}
    assert all(m["all"]["n"] > 100 for m in data["models"].values())


def test_dense_matrices_refuse_a_catalog_over_budget(monkeypatch):
    import streamrec.replay.baselines._neighbours as nb

    monkeypatch.setattr(nb, "DENSE_BUDGET", 40 * 40 * 4)  # room for 40 items in float32
    events, evaluate = random_stream(1, n=200, n_items=30)
    ItemKNN().evaluate_and_learn(events, evaluate)  # 30 items fit
    wide = [ClickEvent(f"w{n}", 1.8e9 + n, "u", f"new{n}") for n in range(60)]
    with pytest.raises(MemoryError, match="leave item-knn/ease out"):
        ItemKNN().evaluate_and_learn(wide, np.ones(60, bool))
