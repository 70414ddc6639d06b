"""The serving arms of a run: one exploration policy, or an A/B split between several.

``--policy egreedy:0.1`` serves one arm named after its policy.
``--ab-split 'a=egreedy:0.1@0.5,b=softmax:0.2@0.5'`` serves arms ``a`` and ``b``
on deterministic user-hash buckets with the given shares (see
:class:`online.ab_split.ABSplit`); every recommendation carries its ``arm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamrec.online.ab_split import ABSplit
from streamrec.online.policies import Policy, make_policy


@dataclass
class Arms:
    policies: dict[str, Policy]
    split: ABSplit | None

    @property
    def is_split(self) -> bool:
        return self.split is not None

    @classmethod
    def parse(cls, policy: str, ab_split: str = "", salt: str = "streamrec-ab") -> Arms:
        """Build the arms from the CLI strings; raises ValueError with the offending part."""
        if not ab_split.strip():
            p = make_policy(policy)
            return cls({p.name: p}, None)
        policies: dict[str, Policy] = {}
        shares: dict[str, float] = {}
        for part in ab_split.split(","):
            name, eq, rest = part.strip().partition("=")
            spec, at, share = rest.rpartition("@")
            if not (eq and at and name):
                raise ValueError(f"bad A/B arm {part!r}; expected NAME=POLICY@SHARE")
            policies[name] = make_policy(spec)
            shares[name] = float(share)
        return cls(policies, ABSplit(shares, salt=salt))

    def for_user(self, user: str) -> tuple[str, Policy]:
        """The arm serving ``user`` (always the same one for the same user)."""
        if self.split is None:
            name = next(iter(self.policies))
            return name, self.policies[name]
        name = self.split.arm_for(user)
        return name, self.policies[name]

    @property
    def learns(self) -> bool:
        """Whether any arm's policy learns from rewards (else :meth:`learn_reward` does nothing)."""
        return any(p.learns for p in self.policies.values())

    def learn_reward(self, record: dict[str, Any]) -> None:
        """Feed a joined reward to the policy that served it (bandit statistics)."""
        policy = self.policies.get(record.get("arm") or "") or self.policies.get(record.get("policy") or "")
        if policy is None or not policy.learns:
            return
        clicked = record.get("clicked_item")
        for item in record.get("slate", {}).get("items", []):
            policy.update(item, 1.0 if item == clicked else 0.0)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able learned statistics of the policies that have any."""
        return {n: p.to_dict() for n, p in self.policies.items() if hasattr(p, "to_dict")}

    def restore(self, data: dict[str, Any]) -> None:
        for name, d in (data or {}).items():
            policy = self.policies.get(name)
            if policy is not None and hasattr(policy, "load_dict"):
                policy.load_dict(d)
