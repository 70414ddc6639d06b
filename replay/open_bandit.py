"""Reader for the Open Bandit Dataset CSV (ZOZOTOWN; Saito et al. 2021) and its policies' action distributions.

``all.csv.gz`` columns: ``,timestamp,item_id,position,click,propensity_score,
user_feature_0..3,user-item_affinity_0..79``; one row is one impression
(round t: item a_t shown in slot s_t, click r_t, logging propensity
pi_b(a_t | s_t)). Positions are 1-based in the file and 0-based here.
``item_context.csv`` holds ``item_id,item_feature_0..3``.

Evaluation policies' action distributions (arrays [n_actions, len_list], the
same for every round, since both ZOZOTOWN policies ignore user context):

* ``uniform_action_dist``: the Random policy, 1 / n_actions everywhere.
* ``empirical_action_dist(bts_log)``: the Bernoulli-TS policy's time-averaged
  slot marginal, estimated by the share of its own log's impressions in each
  slot that showed item a (an unbiased estimate of the mean over rounds of
  pi_t(a | s)). We do not redo OBP's Monte-Carlo over Beta posteriors: the
  ZOZOTOWN prior parameters are not in this sample.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np


@dataclass
class OpenBanditLog:
    """One OBD log as arrays (n rows = n rounds)."""

    timestamp: np.ndarray  # float seconds since the epoch
    action: np.ndarray  # int64 item id
    position: np.ndarray  # int64, 0-based slot
    reward: np.ndarray  # float64 click 0/1
    pscore: np.ndarray  # float64 logging propensity
    user_features: np.ndarray  # object [n, 4] (hashed strings)
    affinity: np.ndarray  # float64 [n, n_affinity]
    n_actions: int
    len_list: int
    item_context: dict[int, list] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def context(self, t: int) -> dict[str, str]:
        """Context dict of round t (user features) for the reward model."""
        return {f"user_feature_{j}": str(v) for j, v in enumerate(self.user_features[t])}


def _open(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")


def _ts(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return float("nan")


def load_open_bandit(path: str | Path, n_actions: int | None = None) -> OpenBanditLog:
    """Read ``all.csv(.gz)`` (or a directory holding it) and ``item_context.csv`` beside it if present."""
    p = Path(path)
    if p.is_dir():
        p = p / "all.csv.gz" if (p / "all.csv.gz").exists() else p / "all.csv"
    with _open(p) as fh:
        reader = csv.reader(fh)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        for need in ("item_id", "position", "click", "propensity_score"):
            if need not in col:
                raise ValueError(f"{p}: missing column {need!r}")
        uf = sorted((c for c in col if c.startswith("user_feature_")), key=lambda c: int(c.rsplit("_", 1)[1]))
        af = sorted((c for c in col if c.startswith("user-item_affinity_")), key=lambda c: int(c.rsplit("_", 1)[1]))
        rows = list(reader)
    n = len(rows)
    get = lambda name, cast: np.array([cast(r[col[name]]) for r in rows])  # noqa: E731
    action = get("item_id", int).astype(np.int64)
    position = get("position", int).astype(np.int64)
    position = position - position.min() if n and position.min() == 1 else position
    log = OpenBanditLog(
        timestamp=get("timestamp", _ts).astype(np.float64) if "timestamp" in col else np.zeros(n),
        action=action,
        position=position,
        reward=get("click", float).astype(np.float64),
        pscore=get("propensity_score", float).astype(np.float64),
        user_features=np.array([[r[col[c]] for c in uf] for r in rows], dtype=object).reshape(n, len(uf)),
        affinity=np.array([[float(r[col[c]]) for c in af] for r in rows]).reshape(n, len(af)),
        n_actions=int(n_actions or max(len(af), int(action.max()) + 1 if n else 0)),
        len_list=int(position.max()) + 1 if n else 0,
    )
    ctx = p.parent / "item_context.csv"
    if ctx.exists():
        with open(ctx, newline="") as fh:
            r = csv.reader(fh)
            next(r)
            log.item_context = {int(row[1]): row[2:] for row in r}
    return log


def uniform_action_dist(n_actions: int, len_list: int) -> np.ndarray:
    """The Random policy: 1 / n_actions for every item in every slot."""
    return np.full((n_actions, len_list), 1.0 / n_actions)


def empirical_action_dist(log: OpenBanditLog) -> np.ndarray:
    """Share of the log's impressions in slot s that showed item a: [n_actions, len_list], columns sum to 1."""
    counts = np.zeros((log.n_actions, log.len_list))
    np.add.at(counts, (log.action, log.position), 1.0)
    return counts / np.maximum(counts.sum(axis=0, keepdims=True), 1.0)
