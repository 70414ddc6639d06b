"""ParamStore: round trips, incremental saves, growth, bad input, hostile content."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import rocksdict

from streamrec.online.model_state import ModelState
from streamrec.state import layout as L
from streamrec.state.store import ParamStore


def random_state(rng: np.random.Generator, n_users: int = 300, n_items: int = 120, k: int = 8) -> ModelState:
    return ModelState(
        arrays={
            "user_v": rng.normal(size=(n_users, k)).astype(np.float32),
            "item_v": rng.normal(size=(n_items, k)).astype(np.float32),
            "item_w": rng.normal(size=n_items),  # float64, 1-D
            "counts": rng.integers(0, 1 << 40, size=(n_items, 3, 2), dtype=np.int64),
            "seen": rng.random(n_users) < 0.5,
            "small": rng.integers(0, 255, size=7, dtype=np.uint8),
            "scalar": np.array(3.25, dtype=np.float32),
            "empty": np.zeros((0, 4), dtype=np.float32),
        },
        vocab={
            "users": [f"u{i}" for i in range(n_users)],
            "items": [f"itém-{i}/\u2603\"'" for i in range(n_items)],
        },
        meta={"events_learned": int(rng.integers(1 << 50)), "lr": 0.05, "name": "fm", "drift": False},
    )


def assert_same(a: ModelState, b: ModelState) -> None:
    assert a.arrays.keys() == b.arrays.keys()
    for name in a.arrays:
        x, y = a.arrays[name], b.arrays[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    assert a.vocab == b.vocab
    assert a.meta == b.meta


def copy_state(s: ModelState) -> ModelState:
    return ModelState(
        {n: a.copy() for n, a in s.arrays.items()}, {n: list(v) for n, v in s.vocab.items()}, dict(s.meta)
    )


def test_round_trip_across_close_and_reopen(tmp_path):
    s = random_state(np.random.default_rng(0))
    s.arrays["item_w"][3] = np.nan  # bit patterns survive, NaN included
    with ParamStore(tmp_path / "st") as store:
        assert store.load() is None
        store.save(s)
    with ParamStore(tmp_path / "st") as store:
        back = store.load()
    assert_same(s, back)
    back.arrays["user_v"][0, 0] = 1.0  # loaded arrays are writable


@pytest.mark.parametrize("diff", [False, True])
@pytest.mark.parametrize("chunk_bytes", [1, 24, 64, 4096])
def test_incremental_saves_equal_a_full_save(tmp_path, chunk_bytes, diff):
    rng = np.random.default_rng(1)
    s = random_state(rng)
    inc = ParamStore(tmp_path / "inc", chunk_bytes=chunk_bytes, diff=diff)
    inc.save(s)
    for step in range(6):
        dirty = {}
        for name in ("user_v", "item_v", "item_w", "counts", "seen"):
            arr = s.arrays[name]
            rows = np.unique(rng.integers(0, arr.shape[0], size=5))
            arr[rows] = rng.normal(size=arr[rows].shape).astype(arr.dtype)
            arr[rows[:2]] = 0  # zeros: the same bytes twice in a row on some steps
            if arr.ndim > 1:  # one slot of a wide row
                arr.reshape(arr.shape[0], -1)[rows[-1], -1] = step
            dirty[name] = np.concatenate([rows, rng.integers(0, arr.shape[0], size=3)])  # + unchanged rows
        s.arrays["scalar"] = np.array(step, dtype=np.float32)
        s.meta["events_learned"] += 1
        s.vocab["users"].append(f"new{step}")
        dirty["bogus"] = np.array([1])  # unknown names and out-of-range rows are ignored
        dirty["item_v"] = np.append(dirty["item_v"], [-1, 10**9])
        inc.save(s, dirty)
    inc.close()
    with ParamStore(tmp_path / "full") as full:
        full.save(s)
        expected = full.load()
    with ParamStore(tmp_path / "inc") as again:
        assert_same(again.load(), expected)
    assert_same(expected, s)


def test_undeclared_changes_are_not_written(tmp_path):
    """The dirty set is the contract: rows not listed keep their stored value."""
    s = random_state(np.random.default_rng(2))
    with ParamStore(tmp_path, chunk_bytes=1) as store:
        store.save(s)
        before = s.arrays["item_v"][5].copy()
        s.arrays["item_v"][5] += 1
        store.save(s, {"item_v": np.array([6])})
        assert store.load().arrays["item_v"][5].tobytes() == before.tobytes()


@pytest.mark.parametrize("diff", [False, True])
def test_arrays_grow_shrink_appear_and_change_dtype(tmp_path, diff):
    rng = np.random.default_rng(3)
    s = random_state(rng)
    with ParamStore(tmp_path, diff=diff) as store:
        store.save(s)
        s.arrays["counts"][3, 1, 1] = 7  # one slot of a stored row, with the growth below
        s.arrays["user_v"][-1] = 0.5
        s.arrays["user_v"] = np.concatenate([s.arrays["user_v"], rng.normal(size=(333, 8)).astype(np.float32)])
        s.arrays["item_w"] = s.arrays["item_w"][:50].copy()  # shrink to a partial chunk
        s.arrays["item_v"] = s.arrays["item_v"][:0].copy()  # to no rows (a trimmed, emptied group)
        s.arrays["seen"] = s.arrays["seen"].astype(np.int16)  # dtype change
        s.arrays["new"] = rng.normal(size=(9, 2))
        del s.arrays["small"]
        s.vocab["items"] = s.vocab["items"][:10]  # shorter vocab: rewritten whole
        s.vocab["users"] += [f"x{i}" for i in range(2000)]  # crosses vocab chunks
        store.save(s, {"counts": np.array([3]), "user_v": np.array([299])})
        assert_same(store.load(), s)
        keys = list(store.db.keys())
    assert not any(k.startswith((b"a/small/", b"a/item_v/")) for k in keys)


def test_diff_writes_only_changed_parts_of_wide_rows(tmp_path):
    """A row wider than a chunk is stored in parts; with ``diff`` a save writes the parts
    whose bytes changed, and nothing for dirty rows that did not change."""
    wide = np.zeros((10, 64), np.float32)  # 256 B rows, 4 parts of 64 B
    s = ModelState({"wide": wide}, {}, {"n": 0})
    with ParamStore(tmp_path, chunk_bytes=64, diff=True) as store:
        store.save(s)
        assert store.db.get(L.LAYOUT_KEY).count(b'"row_parts":4') == 1
        base = store.save(s, {"wide": np.array([], np.int64)})  # layout + meta only
        assert store.save(s, {"wide": np.arange(10)}) == base  # dirty but unchanged
        wide[3, 40] = 1.0  # part 2 of row 3
        wide[7, 0] = 2.0  # part 0 of row 7
        assert store.save(s, {"wide": np.array([3, 7])}) == base + 2 * 64
        assert_same(store.load(), s)
    with ParamStore(tmp_path) as again:
        assert_same(again.load(), s)


def test_bad_input_is_refused_and_leaves_the_store_unchanged(tmp_path):
    s = random_state(np.random.default_rng(4))
    with ParamStore(tmp_path) as store:
        store.save(s)
        saved = copy_state(s)
        bad_cases = [
            lambda t: t.meta.__setitem__("lr", float("nan")),
            lambda t: t.meta.__setitem__("obj", object()),
            lambda t: t.arrays.__setitem__("objs", np.array([object()])),
            lambda t: t.arrays.__setitem__("bad/name", np.zeros(2)),
            lambda t: t.vocab.__setitem__("users", [1, 2]),
            lambda t: t.arrays.__setitem__("rec", np.zeros(2, dtype=[("a", "f4")])),
        ]
        for mutate in bad_cases:
            t = copy_state(s)
            t.arrays["user_v"][:] = 0  # would be written if the save went ahead
            mutate(t)
            with pytest.raises((ValueError, TypeError)):
                store.save(t, None)
            assert_same(store.load(), saved)


def test_numpy_scalars_in_meta_become_plain_json(tmp_path):
    s = random_state(np.random.default_rng(5))
    s.meta["n"] = np.int64(7)
    with ParamStore(tmp_path) as store:
        store.save(s)
        back = store.load().meta["n"]
    assert back == 7 and type(back) is int


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/streamrec_state_pwned", "w"))


@pytest.mark.parametrize(
    "key,value",
    [
        (L.META_KEY, pickle.dumps(_Boom())),
        (L.META_KEY, b"[1, 2]"),
        (L.META_KEY, b'{"x": NaN}'),
        (L.LAYOUT_KEY, pickle.dumps(_Boom())),
        (
            L.LAYOUT_KEY,
            b'{"format":1,"arrays":{"w":{"dtype":"O","shape":[2],"chunk_rows":1}},"vocab":{},"vocab_chunk":8}',
        ),
        (
            L.LAYOUT_KEY,
            b'{"format":1,"arrays":{"w":{"dtype":"<f8","shape":[-2],"chunk_rows":1}},"vocab":{},"vocab_chunk":8}',
        ),
        (
            L.LAYOUT_KEY,
            b'{"format":1,"arrays":{"../w":{"dtype":"<f8","shape":[2],"chunk_rows":1}},"vocab":{},"vocab_chunk":8}',
        ),
        (L.LAYOUT_KEY, b'{"format":2}'),
        (b"a/item_w/0000000000", b"\x00" * 3),
        (b"v/users/0000000000", b'["u0", 5]'),
    ],
)
def test_hostile_content_raises_state_corrupt_and_never_unpickles(tmp_path, key, value):
    import os

    flag = "/tmp/streamrec_state_pwned"
    if os.path.exists(flag):
        os.remove(flag)
    with ParamStore(tmp_path) as store:
        store.save(random_state(np.random.default_rng(6)))
        store.db[key] = value
        with pytest.raises(L.StateCorrupt):
            store.load()
    assert not os.path.exists(flag)


def test_store_is_raw_bytes_and_reopens_with_plain_rocksdb(tmp_path):
    s = random_state(np.random.default_rng(7))
    with ParamStore(tmp_path) as store:
        store.save(s)
        path = store.path
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    row = np.frombuffer(db[b"a/user_v/0000000000"], dtype="<f4")
    db.close()
    assert row[:8].tobytes() == s.arrays["user_v"][0].tobytes()


def test_a_large_diff_in_two_threads_finds_and_copies_what_one_pass_does():
    from streamrec.state.chunk_diff import SPLIT_BYTES, diff_run, diff_runs

    rng = np.random.default_rng(5)
    cb = 256
    n = 2 * SPLIT_BYTES // cb + 7  # past the split size
    old = rng.integers(0, 255, n * cb, dtype=np.uint8)
    new = old.copy()
    new[rng.choice(n * cb, 3000, replace=False)] += 1
    cands = np.arange(0, n, 2)  # every other chunk (the others change but are not candidates)
    old_one, old_two = old.copy(), old.copy()
    idx, data = diff_run(new, old_one, cands, cb)
    pieces = diff_runs(new, old_two, cands, cb)
    assert len(pieces) == 2 and np.array_equal(np.concatenate([p[0] for p in pieces]), idx)
    assert np.array_equal(np.concatenate([p[1] for p in pieces]), data)
    assert np.array_equal(old_one, old_two) and not np.array_equal(old_two, new)


def test_a_chained_capture_equals_its_two_parts_applied_in_turn(tmp_path):
    """``chain(first, then)`` drops what ``then`` deletes or rewrites of ``first``: a chunk
    past a shrink, a partial last chunk that ``then`` writes whole after a growth, and an
    array that ``then`` drops; the DB then holds exactly the keys of a full save."""
    from streamrec.state.capture import chain

    rng = np.random.default_rng(11)
    s = random_state(rng)
    s.arrays["tail"] = rng.normal(size=(10, 3)).astype(np.float32)  # 120 bytes: a partial chunk
    with ParamStore(tmp_path / "two", chunk_bytes=64) as store:
        store.save(s)
        s.arrays["item_w"][100:110] = -1.0  # chunks that the shrink below deletes
        s.arrays["tail"][9] = 5.0  # the partial chunk, put by ``first``
        s.arrays["user_v"][7] = 2.0
        s.vocab["users"].append("early")
        first = store.capture(s, {"item_w": np.arange(100, 110), "tail": np.array([9]), "user_v": np.array([7])})
        s.arrays["item_w"] = s.arrays["item_w"][:40].copy()
        s.arrays["tail"] = np.concatenate([s.arrays["tail"], np.ones((30, 3), np.float32)])  # chunk 1 now whole
        s.arrays["user_v"][8] = 3.0
        del s.arrays["small"]
        s.arrays["scalar"] = np.array(-2.0, np.float32)
        s.vocab["users"].append("late")
        s.meta["events_learned"] += 1
        then = store.capture(s, {"user_v": np.array([8])})
        both = chain(first, then)
        assert len(both.runs) == len(first.runs) + len(then.runs)
        assert sum(len(r.idx) for r in both.runs) < sum(len(r.idx) for r in first.runs + then.runs)
        store.apply(both)
        assert_same(store.load(), s)
        keys = sorted(store.db.keys())
    with ParamStore(tmp_path / "one", chunk_bytes=64) as full:
        full.save(s)
        assert sorted(full.db.keys()) == keys
