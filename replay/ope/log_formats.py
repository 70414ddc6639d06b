"""The two logs ``streamrec ope`` reads, as :class:`LoggedRounds` for one estimation path.

* Open Bandit Dataset (:class:`replay.open_bandit.OpenBanditLog`): one round per row; the
  candidates are all ``n_actions`` items; the evaluation policy is ``random`` (1/n_actions per
  slot), ``bts`` (empirical slot marginals of the Bernoulli-TS log) or a ``make_policy`` spec
  acting on the row's user-item affinity features as scores.
* streamrec reward records (the RewardJoiner's output): one decision per ``rec_id``, one round
  per shown slot; the candidates are the logged slate (the only items with logged
  propensities); a spec policy ranks them by the logged scores if present, else by slot order.

>>> recs = [{"rec_id": "r1", "slate": {"items": ["a", "b"], "propensities": [0.9, 0.1]},
...          "context": {"d": "m"}, "position": 1, "reward": 1.0}]
>>> decisions = records_to_decisions(recs)
>>> decisions[0]["rewards"]
[0.0, 1.0]
>>> rounds = decision_rounds(decisions, "greedy")
>>> rounds.evaluation_pscore.tolist(), rounds.pscore.tolist()
([1.0, 1.0], [0.9, 0.1])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamrec.online.policies import make_policy
from streamrec.replay.ope.logged_rounds import LoggedRounds


def _ids(keys: list[Any]) -> tuple[np.ndarray, list[int]]:
    """Dense id per key (first-seen order) and the first position of each distinct key."""
    seen: dict[Any, int] = {}
    first: list[int] = []
    ids = np.empty(len(keys), np.int64)
    for t, key in enumerate(keys):
        j = seen.get(key)
        if j is None:
            j = seen[key] = len(first)
            first.append(t)
        ids[t] = j
    return ids, first


def obd_rounds(log: Any, policy: str, bts_log: Any = None) -> LoggedRounds:
    """Rounds of an Open Bandit log for evaluating ``policy`` (``bts`` needs ``bts_log``)."""
    from streamrec.replay.open_bandit import empirical_action_dist, uniform_action_dist

    n = len(log)
    items = np.arange(log.n_actions)
    if policy in ("random", "bts"):
        if policy == "bts" and bts_log is None:
            raise ValueError("policy bts needs the BTS log (--bts-log)")
        fixed = uniform_action_dist(log.n_actions, log.len_list) if policy == "random" else None
        dists = [fixed if fixed is not None else empirical_action_dist(bts_log)]
        dist_id = np.zeros(n, np.int64)
    else:
        pol = make_policy(policy)
        dist_id, first = _ids([log.affinity[t].tobytes() for t in range(n)])
        dists = [pol.probabilities(items, log.affinity[t], log.len_list) for t in first]
    context_id, first_ctx = _ids([tuple(log.user_features[t]) for t in range(n)])
    return LoggedRounds(
        reward=np.asarray(log.reward, np.float64),
        pscore=np.asarray(log.pscore, np.float64),
        position=np.asarray(log.position, np.int64),
        action=np.asarray(log.action, np.int64),
        context_id=context_id,
        candidates_id=np.zeros(n, np.int64),
        dist_id=dist_id,
        contexts=[log.context(t) for t in first_ctx],
        candidates=[items],
        dists=dists,
        n_bits=16,
    )


def records_to_decisions(records: list[dict]) -> list[dict]:
    """Reward records -> one dict per decision: items, propensities, scores, context, rewards per slot."""
    by_rec: dict[str, dict] = {}
    for r in records:
        slate = r.get("slate") or {}
        items = [str(i) for i in slate.get("items", [])]
        d = by_rec.setdefault(
            str(r["rec_id"]),
            {
                "items": items,
                "propensities": [float(p) for p in slate.get("propensities", [])],
                "scores": slate.get("scores"),
                "context": r.get("context") or {},
                "rewards": [0.0] * len(items),
            },
        )
        pos = r.get("position")
        if isinstance(pos, int) and 0 <= pos < len(d["rewards"]) and (r.get("reward") or 0) > 0:
            d["rewards"][pos] = 1.0
    return [d for d in by_rec.values() if d["items"] and len(d["propensities"]) == len(d["items"])]


def decision_rounds(decisions: list[dict], policy: str) -> LoggedRounds:
    """One round per shown slot of each decision, for evaluating ``policy`` on the logged slates."""
    pol = make_policy(policy)
    dists: list[np.ndarray] = []
    slot: list[int] = []
    dec: list[int] = []
    for g, d in enumerate(decisions):
        k = len(d["items"])
        scores = d["scores"] if d["scores"] is not None else [-float(s) for s in range(k)]
        dists.append(pol.probabilities(np.array(d["items"], dtype=object), scores, k))
        slot += range(k)
        dec += [g] * k
    dec_id = np.asarray(dec, np.int64)
    return LoggedRounds(
        reward=np.concatenate([d["rewards"] for d in decisions]).astype(np.float64),
        pscore=np.clip(np.concatenate([d["propensities"] for d in decisions]), 1e-6, 1.0),
        position=np.asarray(slot, np.int64),
        action=np.asarray(slot, np.int64),
        context_id=dec_id,
        candidates_id=dec_id,
        dist_id=dec_id,
        contexts=[d["context"] for d in decisions],
        candidates=[d["items"] for d in decisions],
        dists=dists,
        n_bits=18,
    )
