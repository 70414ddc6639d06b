"""The input layout a state's recovery store was made for: topics, partitions, workers, shards.

Bytewax keys its saved input positions by ``"<partition>-<topic>"`` and cannot resume
a run whose inputs no longer contain them (it panics: ``Key StateKey("0-clicks") is
not in this worker's routing map``). So the first run records its layout in
``STATE/run-topology.json`` and later runs must match it: same input topics, same
worker count and shard count, no topic with fewer partitions (partitions are only ever added; new
ones are read from the beginning). A partition count that is unknown (broker not
reachable yet) is not compared.

>>> changes({"topics": {"clicks": 1}, "workers": 1}, {"topics": {"views": 1}, "workers": 1})
['input topics were clicks, now views']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamrec.state.disk import write_atomic

TOPOLOGY_FILE = "run-topology.json"


class TopologyChanged(ValueError):
    """The run's inputs differ from those the state's recovery store was made for."""


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between a recorded layout and the current one, in words."""
    out = []
    if sorted(old["topics"]) != sorted(new["topics"]):
        out.append(f"input topics were {','.join(sorted(old['topics']))}, now {','.join(sorted(new['topics']))}")
    else:
        for topic, n_old in old["topics"].items():
            n_new = new["topics"][topic]
            if n_old is not None and n_new is not None and n_new < n_old:
                out.append(f"topic {topic} had {n_old} partitions, now {n_new}")
    if old["workers"] != new["workers"]:
        out.append(f"workers were {old['workers']}, now {new['workers']}")
    if old.get("shards", 1) != new.get("shards", 1):  # states recorded before sharding have one
        out.append(f"shards were {old.get('shards', 1)}, now {new.get('shards', 1)}")
    return out


def check_and_record(
    state_dir: str | Path, topics: dict[str, int | None], workers: int, resuming: bool = True, shards: int = 1
) -> None:
    """Record the layout; raise :class:`TopologyChanged` if a resumed run's layout changed.

    ``resuming`` is False when there is no recovery store to resume (first run, recovery
    off or reset): the layout is then recorded afresh. ``workers`` counts all processes'
    workers; ``shards`` is recorded when above 1 (users map to shards by ``S``)."""
    path = Path(state_dir) / TOPOLOGY_FILE
    new: dict[str, Any] = {"topics": dict(topics), "workers": int(workers)}
    if shards > 1:
        new["shards"] = int(shards)
    if resuming and path.exists():
        old = json.loads(path.read_text())
        diff = changes(old, new)
        if diff:
            raise TopologyChanged(
                f"--state {state_dir} was started with other inputs ({'; '.join(diff)}) and its recovery store "
                "cannot resume these; run with the original --in/--items/--workers/--processes/--shards, or use a new --state, or keep "
                f"the model and start the inputs afresh: `streamrec model snapshot --state {state_dir}` (a version "
                f"to roll back to), then delete {Path(state_dir) / 'recovery'} (the inputs are then read from the "
                "beginning)"
            )
        new["topics"] = {t: n if n is not None else old["topics"][t] for t, n in new["topics"].items()}
        if new == old:
            return
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(new, sort_keys=True).encode())
