"""Shard keys: the routing formula matches Bytewax's real routing, and spreads shards evenly."""

from __future__ import annotations

import threading

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, cluster_main

from streamrec.flows.shard_keys import bytewax_worker, shard_keys, siphash13

# ``BuildHasherDefault::<DefaultHasher>::default().hash_one(StateKey(s.to_string()))`` printed by
# a Rust 1.95 program (std's SipHash-1-3, zero keys), the hash Bytewax 0.21 routes keys with.
RUST_HASHES = {
    "shard-0": 7645246731797323985,
    "shard-1": 2999536964338289215,
    "model": 673690854869556559,
    "": 3476900567878811119,
    "a-much-longer-key-with-more-than-eight-bytes": 347093563475367308,
}


@pytest.mark.parametrize("key", sorted(RUST_HASHES))
def test_hash_matches_rusts_default_hasher(key):
    assert siphash13(key.encode() + b"\xff") == RUST_HASHES[key]


@pytest.mark.parametrize(("shards", "workers"), [(2, 2), (4, 2), (6, 3), (8, 4), (3, 1)])
def test_every_worker_gets_the_same_number_of_shards(shards, workers):
    keys = shard_keys(shards, workers)
    assert len(set(keys)) == shards
    owners = [bytewax_worker(k, workers) for k in keys]
    assert owners == [s % workers for s in range(shards)]


def test_uneven_split_is_refused():
    with pytest.raises(ValueError, match="multiple of 2"):
        shard_keys(3, 2)


def _threads_per_key(keys: list[str], workers: int) -> dict[str, int]:
    """Run a real 1-process, ``workers``-thread Bytewax cluster; which thread saw each key."""
    seen: list[tuple[str, int]] = []
    flow = Dataflow("probe")
    items = op.input("in", flow, TestingSource([(k, 1) for k in keys * 3]))
    marked = op.stateful_map("where", items, lambda s, v: (s, threading.get_ident()))
    op.output("out", marked, TestingSink(seen))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    by_key: dict[str, set[int]] = {}
    for key, ident in seen:
        by_key.setdefault(key, set()).add(ident)
    assert all(len(v) == 1 for v in by_key.values())
    return {k: next(iter(v)) for k, v in by_key.items()}


@pytest.mark.parametrize("workers", [2, 3])
def test_prediction_matches_a_real_bytewax_cluster(workers):
    keys = shard_keys(2 * workers, workers) + ["shard-0", "shard-1", "model", "u1", "u2", "u3"]
    thread_of = _threads_per_key(keys, workers)
    for a in keys:
        for b in keys:
            same_thread = thread_of[a] == thread_of[b]
            assert same_thread == (bytewax_worker(a, workers) == bytewax_worker(b, workers)), (a, b)
