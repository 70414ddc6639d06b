"""Bench of the RocksDB parameter store against a plain numpy ``.npy`` dump, same run.

Builds a synthetic model of about ``--mb`` MB (user/item embeddings + AdaGrad
accumulators + biases + vocabs), then times, median of ``--repeats``:
full save, incremental save with ``--dirty`` of the rows dirty, commit_epoch
(dirty save + RocksDB checkpoint), load; the reference is ``np.save`` of every
array (+ the vocab as JSON) and ``np.load``. Also sweeps the chunk size.

    python bench/state_io.py [--mb 10] [--dirty 0.01] [--repeats 5] [--dir /tmp/x]

``--engine-items N`` instead runs the real engine twice over the same generated clicks (a
catalog growing to N items), committing at the end of every epoch of ``--epoch-events``
events: pass 1 synchronously (``commit_epoch``: save + checkpoint, all on the event path),
pass 2 with the background committer (``EpochCommitter``: capture + redo file on the event
path, RocksDB in its worker process). It prints, per epoch, both event-path times, their
ratio, the background work, and the engine's batch times in the sync pass and in the
background pass while a commit runs vs while none does:

    python bench/state_io.py --engine-items 20000 --engine-events 66000 --epoch-events 11000
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
from streamrec.state.epoch_commit import EpochCommitter
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


BG_COLUMNS = (("background", 6), ("bg_seal", 5), ("bg_apply", 6), ("bg_flush", 6), ("bg_checkpoint", 5))


def engine_pass(events: list, root: Path, background: bool, epoch_events: int, batch: int) -> tuple[list, list, list]:
    """One pass of the engine over ``events``, committing each epoch synchronously or in the
    background; returns (per-epoch (event-path seconds, timings), batch seconds while a
    background commit ran, batch seconds while none did)."""
    from streamrec.online.recommender import Recommender

    model = Recommender()
    store = ParamStore(root, wal=False, diff=True)
    store.save(model.export_state(copy=False))  # as EngineLogic does at start-up
    model.clear_dirty()
    committer = EpochCommitter(store) if background else None
    epochs: list[tuple[float, dict]] = []
    busy: list[float] = []
    idle: list[float] = []
    for start in range(0, len(events), epoch_events):
        for b in range(start, min(len(events), start + epoch_events), batch):
            t = time.perf_counter()
            model.process_batch(events[b : b + batch], n_candidates=50, rank_before=False)
            (busy if committer is not None and committer.busy() else idle).append(time.perf_counter() - t)
        state, dirty = model.export_state(copy=False), model.dirty_rows()
        t = time.perf_counter()
        if committer is None:
            commit_epoch(store, state, dirty)
        else:
            committer.commit(state, dirty)
        epochs.append((time.perf_counter() - t, dict(committer.timings) if committer else {}))
        model.clear_dirty()
    if committer is not None:
        committer.wait()
        epochs.append((0.0, dict(committer.timings)))  # the last epoch's background work
        committer.close()
    store.close()
    return epochs, busy, idle


def engine_epochs(n_items: int, n_events: int, epoch_events: int, root: Path, batch: int = 100) -> None:
    """Sync vs background epoch commits of the real engine: two passes over the same clicks."""
    from streamrec.contract.events import event_from_dict
    from streamrec.shell.traffic import ClickGenerator

    gen = ClickGenerator(n_users=max(1000, n_items // 4), n_items=n_items, seed=1)
    new = [k // 3 if k % 3 == 0 and k // 3 < n_items else None for k in range(n_events)]
    events = [event_from_dict(gen.next_event(item=i)) for i in new]
    sync, _, sync_batches = engine_pass(events, root / "sync", False, epoch_events, batch)
    bg, busy, idle = engine_pass(events, root / "async", True, epoch_events, batch)
    print(
        f"{'events':>7} {'sync_ms':>8} {'async_ms':>8} {'ratio':>6} {'wait':>5} {'capture':>8} {'redo':>6} {'redo_MB':>8} | "
        "its background ms: " + " ".join(f"{k.removeprefix('bg_'):>{w}}" for k, w in BG_COLUMNS)
    )
    for e, ((ts, _), (ta, tm)) in enumerate(zip(sync, bg)):
        after = bg[e + 1][1]  # an epoch's background timings are read at the next commit
        print(
            f"{min(n_events, (e + 1) * epoch_events):7d} {ts * 1e3:8.0f} {ta * 1e3:8.0f} {ts / ta:6.1f} {tm['wait'] * 1e3:5.0f} "
            f"{tm['capture'] * 1e3:8.0f} {tm['redo'] * 1e3:6.0f} {tm['redo_bytes'] / 1e6:8.1f} | {' ' * 18}"
            + " ".join(f"{after.get(k, 0) * 1e3:{w}.0f}" for k, w in BG_COLUMNS),
            flush=True,
        )
    sync_ms = np.array([t for t, _ in sync[1:]]) * 1e3  # the first background epoch is a full capture
    async_ms = np.array([t for t, _ in bg[1:-1]]) * 1e3
    own_ms = np.array([t - tm["wait"] for t, tm in bg[1:-1]]) * 1e3
    print(
        f"epochs 2..{len(sync)}: commit on the event path, median sync {np.median(sync_ms):.0f} ms, background "
        f"committer {np.median(async_ms):.0f} ms (ratio {np.median(sync_ms) / np.median(async_ms):.1f}x); max sync "
        f"{sync_ms.max():.0f} ms, max background committer {async_ms.max():.0f} ms\n"
        f"  without waiting for the previous epoch's background work (this loop runs epochs faster than real "
        f"time): median {np.median(own_ms):.0f} ms (ratio {np.median(sync_ms) / np.median(own_ms):.1f}x), "
        f"max {own_ms.max():.0f} ms"
    )
    for name, ts in (
        ("sync pass", sync_batches),
        ("background pass, a commit running", busy),
        ("background pass, none running", idle),
    ):
        if ts:
            a = np.array(ts) * 1e3
            print(
                f"engine batches of {batch} events, {name}: n={len(a)} p50 {np.percentile(a, 50):.1f} "
                f"p99 {np.percentile(a, 99):.1f} max {a.max():.1f} ms"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--dirty", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunks", default="128,1024,4096,16384", help="chunk_bytes values to sweep")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--engine-items", type=int, default=0, help="run the engine epoch-commit bench instead")
    ap.add_argument("--engine-events", type=int, default=66000)
    ap.add_argument("--epoch-events", type=int, default=11000)
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="state_io_"))
    if args.engine_items:
        engine_epochs(args.engine_items, args.engine_events, args.epoch_events, root)
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
        return
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
