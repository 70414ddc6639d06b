"""Exploration for a batch: the engine's candidates -> one shown slate per event, as columns.

Events are grouped by serving arm (one group without an A/B split) and each group
is one :func:`online.policies.batch.select_batch` call. Scores and propensities
come back finite and rounded to 6 decimals for the message, as plain lists.
Each event's draw is seeded by ``stable_seed(event_id)``, so a replayed event
gets the same slate in any process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.contract.messages import stable_seed
from streamrec.flows.policy_spec import Arms
from streamrec.online.policies.batch import select_batch


@dataclass
class Slates:
    """Per event: shown items, their scores and slot propensities, the arm and its policy name."""

    items: list[list[str]]
    scores: list[list[float]]
    propensities: list[list[float]]
    arms: list[str]
    policies: list[str]


def serve_slates(
    arms: Arms,
    users: list[str],
    event_ids: list[str],
    cand_idx: np.ndarray,
    item_ids: Sequence[str],
    cand_scores: np.ndarray,
    k: int,
) -> Slates:
    """Draw every event's slate from its candidates: row ``e`` of ``cand_idx`` (indices into
    ``item_ids``, best first, -1 past the last) and of ``cand_scores``."""
    n = len(users)
    cand_idx = np.asarray(cand_idx, np.int64).reshape(n, -1)
    counts = (cand_idx >= 0).sum(axis=1)
    seeds = np.fromiter((stable_seed(e) for e in event_ids), np.int64, n)
    scores = np.asarray(cand_scores, dtype=np.float64).reshape(n, -1)
    arm_of = [arms.for_user(u)[0] for u in users] if arms.is_split else [next(iter(arms.policies))] * n
    names_used = set(arm_of)
    if len(names_used) <= 1:  # every event on one arm: its selection is the batch's
        policy = arms.policies[arm_of[0] if n else next(iter(arms.policies))]
        idx, props, shown = select_batch(policy, scores, counts, k, seeds)
    else:
        idx = np.full((n, max(k, 1)), -1, np.int64)
        props = np.zeros((n, max(k, 1)))
        shown = np.zeros(n, np.int64)
        for name in names_used:
            rows = np.array([e for e in range(n) if arm_of[e] == name], np.int64)
            i, p, s = select_batch(arms.policies[name], scores[rows], counts[rows], k, seeds[rows])
            idx[rows, : i.shape[1]], props[rows, : p.shape[1]], shown[rows] = i, p, s
    safe = np.where(idx >= 0, idx, 0)
    at = np.arange(n)[:, None]
    shown_scores = scores[at, safe] if scores.shape[1] else np.zeros(idx.shape)
    # finite for the message: NaN -> 0, +-inf -> +-1e300
    shown_scores = np.where(shown_scores == shown_scores, np.clip(shown_scores, -1e300, 1e300), 0.0)
    shown_scores = np.round(shown_scores, 6).tolist()
    props_l = np.round(props, 6).tolist()
    shown_l = shown.tolist()
    item_l = cand_idx[at, safe].tolist() if cand_idx.shape[1] else [[]] * n
    items, sc, pr = [], [], []
    for e in range(n):
        m = shown_l[e]
        items.append([item_ids[j] for j in item_l[e][:m]])
        sc.append(shown_scores[e][:m])
        pr.append(props_l[e][:m])
    names = {a: arms.policies[a].name for a in arms.policies}
    return Slates(items, sc, pr, arm_of, [names[a] for a in arm_of])
