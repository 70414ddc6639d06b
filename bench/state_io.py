"""Bench of the RocksDB parameter store against a plain numpy ``.npy`` dump, same run.

Builds a synthetic model of about ``--mb`` MB (user/item embeddings + AdaGrad
accumulators + biases + vocabs), then times, median of ``--repeats``:
full save, incremental save with ``--dirty`` of the rows dirty, commit_epoch
(dirty save + RocksDB checkpoint), load; the reference is ``np.save`` of every
array (+ the vocab as JSON) and ``np.load``. Also sweeps the chunk size.

    python bench/state_io.py [--mb 10] [--dirty 0.01] [--repeats 5] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from streamrec.online.model_state import ModelState
from streamrec.state.disk import state_size_bytes
from streamrec.state.epochs import commit_epoch
from streamrec.state.store import ParamStore


def synthetic(mb: float, k: int, seed: int = 0) -> ModelState:
    rng = np.random.default_rng(seed)
    row = 2 * k * 4 + 2 * 4  # embedding + accumulator + bias + bias accumulator, float32
    n = int(mb * 2**20 / row)
    n_users, n_items = int(n * 0.8), n - int(n * 0.8)
    arrays = {}
    for side, m in (("user", n_users), ("item", n_items)):
        arrays[f"{side}_v"] = rng.normal(0, 0.1, size=(m, k)).astype(np.float32)
        arrays[f"{side}_v_g2"] = rng.random((m, k), dtype=np.float32)
        arrays[f"{side}_w"] = rng.normal(size=m).astype(np.float32)
        arrays[f"{side}_w_g2"] = rng.random(m, dtype=np.float32)
    vocab = {"users": [f"user-{i}" for i in range(n_users)], "items": [f"item-{i}" for i in range(n_items)]}
    return ModelState(arrays, vocab, {"events_learned": 0, "k": k})


def dirty_rows(state: ModelState, frac: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for side in ("user", "item"):
        m = state.arrays[f"{side}_v"].shape[0]
        rows = np.unique(rng.choice(m, size=max(1, int(m * frac)), replace=False))
        for name in (f"{side}_v", f"{side}_v_g2", f"{side}_w", f"{side}_w_g2"):
            state.arrays[name][rows] += 1e-3
            out[name] = rows
    state.meta["events_learned"] += 1
    return out


def timed(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def npy_dump(state: ModelState, d: Path) -> None:
    d.mkdir(exist_ok=True)
    for name, a in state.arrays.items():
        np.save(d / f"{name}.npy", a)
    (d / "vocab.json").write_text(json.dumps(state.vocab))


def npy_dump_durable(state: ModelState, d: Path) -> None:
    """The fair reference for an epoch commit: a full dump made atomic and durable
    (write a temp dir, fsync every file, rename over the previous dump)."""
    tmp = d.with_name(d.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    npy_dump(state, tmp)
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    shutil.rmtree(d, ignore_errors=True)
    os.rename(tmp, d)


def npy_load(d: Path) -> tuple[dict, dict]:
    arrays = {p.stem: np.load(p) for p in d.glob("*.npy")}
    return arrays, json.loads((d / "vocab.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--dirty", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunks", default="128,1024,4096,16384", help="chunk_bytes values to sweep")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="state_io_"))
    rng = np.random.default_rng(1)
    state = synthetic(args.mb, args.k)
    nbytes = sum(a.nbytes for a in state.arrays.values())
    n_rows = sum(a.shape[0] for a in state.arrays.values())
    print(f"model: {nbytes / 2**20:.1f} MB arrays, {n_rows} rows, dirty {args.dirty:.1%} of rows per array")

    t_npy_save = timed(lambda: npy_dump(state, root / "npy"), args.repeats)
    t_npy_load = timed(lambda: npy_load(root / "npy"), args.repeats)
    t_npy_durable = timed(lambda: npy_dump_durable(state, root / "npy_durable"), args.repeats)
    print(
        f"reference np.save full dump  {t_npy_save * 1e3:8.1f} ms   np.load {t_npy_load * 1e3:8.1f} ms   "
        f"durable atomic dump (fsync+rename) {t_npy_durable * 1e3:8.1f} ms"
    )
    print(
        f"{'chunk_B':>8} {'full_ms':>8} {'x_npy':>6} {'dirty_ms':>8} {'rows/s':>10} {'x_npy':>6} "
        f"{'epoch_ms':>8} {'x_npy':>6} {'load_ms':>8} {'x_npy':>6} {'disk_MB':>8}"
    )
    for chunk in [int(c) for c in args.chunks.split(",")]:
        d = root / f"rocks_{chunk}"
        shutil.rmtree(d, ignore_errors=True)
        with ParamStore(d, chunk_bytes=chunk) as store:
            t_full = timed(lambda: store.save(state), args.repeats)
            dirties = [dirty_rows(state, args.dirty, rng) for _ in range(args.repeats)]
            dirty_it = iter(dirties)
            t_dirty = timed(lambda it=dirty_it: store.save(state, next(it)), args.repeats)
            rows_written = statistics.median(sum(len(r) for r in dd.values()) for dd in dirties)
            epoch_it = iter([dirty_rows(state, args.dirty, rng) for _ in range(args.repeats)])
            t_epoch = timed(lambda it=epoch_it: commit_epoch(store, state, next(it), keep_last=2), args.repeats)
            t_load = timed(store.load, args.repeats)
        disk = state_size_bytes(d)["live"] / 2**20
        print(
            f"{chunk:>8} {t_full * 1e3:8.1f} {t_full / t_npy_save:6.2f} {t_dirty * 1e3:8.2f} "
            f"{rows_written / t_dirty:10.0f} {t_dirty / t_npy_save:6.3f} {t_epoch * 1e3:8.2f} "
            f"{t_epoch / t_npy_durable:6.3f} {t_load * 1e3:8.1f} {t_load / t_npy_load:6.2f} {disk:8.1f}"
        )
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)
    print(
        "x_npy = time / time of the reference in the same run: np.save dump for full/dirty saves, the durable\n"
        "atomic dump for epoch commits (which are durable: RocksDB checkpoint = flush+fsync+hard links), np.load for load"
    )


if __name__ == "__main__":
    main()
