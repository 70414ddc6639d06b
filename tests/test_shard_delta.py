"""Shard deltas and the sharded replay on generated data (no shared data sets)."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.online.config import RecommenderConfig
from streamrec.online.delta_codec import decode_delta, encode_delta
from streamrec.online.recommender import Recommender
from streamrec.online.shard_base import _ITEM_FILL, ShardBase
from streamrec.online.shard_sync import ShardSync
from streamrec.replay.sharded import ShardedEngine, shard_of
from streamrec.shell.traffic import ClickGenerator

CFG = {"n_buckets": 4096, "k": 4, "max_item_features": 4}


def cfg() -> RecommenderConfig:
    return RecommenderConfig(**CFG)


def events(n: int, seed: int = 0, n_items: int = 60) -> list:
    return list(ClickGenerator(n_users=25, n_items=n_items, seed=seed).events(n))


def shape() -> tuple[int, int, int]:
    c = cfg()
    return c.k, c.n_buckets, c.max_item_features


def snapshot(rec: Recommender) -> dict:
    st = rec.export_state()
    return {
        "arrays": {k: v.copy() for k, v in st.arrays.items()},
        "vocab": {k: list(v) for k, v in st.vocab.items()},
    }


def same(a: dict, b: dict) -> bool:
    return (
        a["vocab"] == b["vocab"]
        and a["arrays"].keys() == b["arrays"].keys()
        and all(np.array_equal(a["arrays"][k], b["arrays"][k], equal_nan=True) for k in a["arrays"])
    )


@pytest.mark.parametrize("sync_every", [7, 50])
def test_one_shard_reproduces_the_unsharded_ranks(sync_every):
    ev = events(600)
    flags = np.ones(len(ev), np.bool_)
    plain = Recommender(cfg())
    ref = np.concatenate(
        [plain.evaluate_and_learn(ev[lo : lo + 128], flags[lo : lo + 128]) for lo in range(0, 600, 128)]
    )
    sharded = ShardedEngine(cfg(), 1, sync_every)
    got = np.concatenate(
        [sharded.evaluate_and_learn(ev[lo : lo + 100], flags[lo : lo + 100]) for lo in range(0, 600, 100)]
    )
    assert (ref > 0).sum() > 50
    two = ShardedEngine(cfg(), 2, sync_every)
    two.evaluate_and_learn(ev, flags)
    learned = [s.rec.stats()["events_learned"] for s in two.shards]
    assert min(learned) > 100  # dict events are routed by their user
    assert np.array_equal(ref, got)
    assert sharded.n_syncs == 600 // sync_every


def test_an_item_seen_on_one_shard_is_rankable_on_the_other_with_its_rows():
    a, b = ShardSync(Recommender(cfg()), 0, "r"), ShardSync(Recommender(cfg()), 1, "r")
    for e in events(300):
        (a if shard_of(e["user"], 2) == 0 else b).rec.learn_one(e)
    for _ in range(5):
        a.rec.learn_one({"user": "ua", "item": "only-a", "item_attributes": {"genre": "zz"}})
    assert "only-a" not in b.rec.catalog.items
    da, db = a.emit(), b.emit()
    assert b.merge(decode_delta(encode_delta(da), *shape()))
    assert a.merge(decode_delta(encode_delta(db), *shape()))
    assert "only-a" in [i for i, _ in b.rec.rank("ub", k=500)]
    # the item's id row: only shard a touched it
    row = b.rec.catalog.item_rows("only-a", None)[0]
    for f in ("w", "v", "gw", "gv"):
        assert np.array_equal(getattr(a.rec.state.fm, f)[row], getattr(b.rec.state.fm, f)[row])
    ja, jb = a.rec.catalog.items["only-a"], b.rec.catalog.items["only-a"]
    for f in ("pop", "obs", "nf", "vsum", "wsum"):
        assert np.array_equal(getattr(a.rec.state.items, f)[ja], getattr(b.rec.state.items, f)[jb])
    assert a.rec.state.fm.w0[0] == b.rec.state.fm.w0[0]


def _knn_counts(rec: Recommender) -> dict[tuple[str, str], float]:
    """Item-kNN co-occurrence counts by item ids (dense indices differ per shard)."""
    ids, it = rec.catalog.item_ids, rec.state.items
    return {
        (ids[r], ids[q]): float(c) for r in range(len(ids)) for q, c in zip(it.knn_item[r], it.knn_cnt[r]) if q >= 0
    }


def test_item_knn_cooccurrences_travel_between_shards():
    """Each user's history lives on one shard, so after an exchange both shards hold the
    co-occurrence counts of the whole stream (rows roomy: exact up to float32 sums)."""
    ev = events(800, seed=5)
    whole = Recommender(cfg())
    for e in ev:
        whole.learn_one(e)
    a, b = ShardSync(Recommender(cfg()), 0, "r"), ShardSync(Recommender(cfg()), 1, "r")
    for half in (ev[:400], ev[400:]):  # two rounds: the second sends increments only
        for e in half:
            (a if shard_of(e["user"], 2) == 0 else b).rec.learn_one(e)
        da, db = a.emit(), b.emit()
        assert da.knn_src.size and db.knn_src.size
        assert a.merge(decode_delta(encode_delta(db), *shape())) and b.merge(da)
    want = _knn_counts(whole)
    for shard in (a, b):
        got = _knn_counts(shard.rec)
        assert got.keys() == want.keys()
        assert np.allclose([got[k] for k in want], list(want.values()), rtol=1e-5)
    assert not a.emit().knn_src.size  # merged counts are not sent back


def test_emitted_rows_equal_a_full_comparison():
    rec = Recommender(cfg())
    s = ShardSync(rec, 0, "r")
    before = {f: getattr(rec.state.fm, f).copy() for f in ("w", "v", "gw", "gv")}
    for e in events(200, seed=3):
        rec.learn_one(e)
    d = s.emit()
    fm = rec.state.fm
    full = np.zeros(fm.w.shape[0], np.bool_)
    for f, old in before.items():
        diff = getattr(fm, f) != old
        full |= diff if diff.ndim == 1 else diff.any(1)
    assert np.array_equal(np.sort(d.fm_rows), np.flatnonzero(full))
    assert np.allclose(d.fm_v, fm.v[d.fm_rows].astype(np.float64) - before["v"][d.fm_rows])


def test_base_item_rows_follow_a_growing_catalog_in_doubling_steps():
    rec = Recommender(cfg())
    base = ShardBase(rec.state, 0)
    caps = []
    for n in (1, 3, 40, 65, 65, 200):
        before = {f: a.copy() for f, a in base.items.items()}
        base.fit(n)
        caps.append(base._rows["nf"].shape[0])
        for f, a in base.items.items():
            assert a.shape[0] == n and np.array_equal(a[: before[f].shape[0]], before[f])
            assert (a[before[f].shape[0] :] == _ITEM_FILL[f]).all()
        base.items["pop"][n - 1] = n  # writes go to the base rows
        assert base.items["pop"][n - 1] == n
    assert caps == [64, 64, 64, 128, 128, 256]
    base.fit(10)  # never shrinks
    assert base.items["nf"].shape[0] == 200


def test_a_delta_applies_once():
    a, b = ShardSync(Recommender(cfg()), 0, "r"), ShardSync(Recommender(cfg()), 1, "r")
    for e in events(200, seed=1):
        a.rec.learn_one(e)
    d = a.emit()
    assert b.merge(d)
    after_first = snapshot(b.rec)
    assert not b.merge(d)
    assert not b.merge(decode_delta(encode_delta(d), *shape()))
    assert same(after_first, snapshot(b.rec))
    assert b.cursor() == {0: ("r", 0)}


def test_encode_decode_round_trip():
    a = ShardSync(Recommender(cfg()), 3, "run-x")
    for e in events(150, seed=2):
        a.rec.learn_one(e)
    d = a.emit()
    back = decode_delta(encode_delta(d), *shape())
    assert d.fm_rows.size and d.items and d.tr_src.size
    for name, x in d._asdict().items():
        y = getattr(back, name)
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y


def _hostile(d, data: bytes) -> list[bytes]:
    import json
    import struct

    n = struct.unpack("<I", data[4:8])[0]
    head = json.loads(data[8 : 8 + n])

    def with_head(**kw) -> bytes:
        h = json.dumps({**head, **kw}).encode()
        return data[:4] + struct.pack("<I", len(h)) + h + data[8 + n :]

    bad_rows = d._replace(fm_rows=d.fm_rows + 10**6)
    nan = d._replace(fm_v=np.where(np.arange(d.fm_v.size).reshape(d.fm_v.shape) == 0, np.nan, d.fm_v))
    neg_gv = d._replace(fm_gv=-np.abs(d.fm_gv) - 1)
    bad_pos = d._replace(tr_dst=d.tr_dst + len(d.items))
    return [
        b"",
        b"XXXX" + data[4:],
        data[:-3],
        data + b"\0",
        data[:8] + b"[" + data[9:],
        with_head(items=["ok", "ok"]),
        with_head(seq=-1),
        with_head(w0="x"),
        with_head(origin=True),
        with_head(arrays=[["fm_rows", [10**7]]] + head["arrays"][1:]),
        encode_delta(bad_rows),
        encode_delta(nan),
        encode_delta(neg_gv),
        encode_delta(bad_pos),
    ]


def test_hostile_payloads_raise_and_change_nothing():
    a, b = ShardSync(Recommender(cfg()), 0, "r"), ShardSync(Recommender(cfg()), 1, "r")
    for e in events(200, seed=4):
        a.rec.learn_one(e)
        b.rec.learn_one(e)
    d = a.emit()
    before = snapshot(b.rec)
    for payload in _hostile(d, encode_delta(d)):
        with pytest.raises(ValueError):
            b.merge(decode_delta(payload, *shape()))
    with pytest.raises(ValueError):  # decoded for another engine shape
        decode_delta(encode_delta(d), 8, 4096, 4)
    with pytest.raises(ValueError):  # a merge validates even a delta built in-process
        b.merge(d._replace(fm_rows=d.fm_rows + 10**6))
    assert same(before, snapshot(b.rec)) and b.cursor() == {}
    assert b.merge(d)  # the genuine delta still applies


def test_a_round_leaves_every_shard_with_the_same_fm_rows():
    ev = events(400, seed=5)
    m = ShardedEngine(cfg(), 3, 100)
    m.evaluate_and_learn(ev, np.ones(len(ev), np.bool_))
    fms = [s.rec.state.fm for s in m.shards]
    assert m.n_syncs == 4 and min(s.pending_events() for s in m.shards) == 0
    for f in ("w0", "w", "gw", "v", "gv"):
        ref = getattr(fms[0], f)
        assert all(np.allclose(getattr(x, f), ref, rtol=1e-6, atol=1e-6) for x in fms[1:])
    # the intercept moved as the events-weighted mean of the shards' moves, not their sum
    plain = Recommender(cfg())
    plain.evaluate_and_learn(ev, np.ones(len(ev), np.bool_))
    assert abs(fms[0].w0[0] - plain.state.fm.w0[0]) < abs(plain.state.fm.w0[0])
