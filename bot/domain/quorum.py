"""Quorum: can the approvals be assigned to rules so every rule is met?

Each rule ``{group, min_approvals}`` needs that many *distinct* people, and a
person counts for one rule only. That is a bipartite matching between approvers
and rule slots; it is met when every slot is matched. The sizes are tiny (a few
rules, a few people), so a plain augmenting-path search is enough.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    group: str
    min_approvals: int = 1


@dataclass(frozen=True, slots=True)
class RuleProgress:
    group: str
    min_approvals: int
    approvals: int
    people: tuple[str, ...]

    @property
    def met(self) -> bool:
        return self.approvals >= self.min_approvals


def assign(rules: Sequence[Rule], approvers: Mapping[str, Iterable[str]]) -> list[RuleProgress]:
    """Best assignment of approvers (name → their groups) to rule slots."""
    slots = [i for i, rule in enumerate(rules) for _ in range(rule.min_approvals)]
    groups = {person: frozenset(g) for person, g in approvers.items()}
    slot_owner: dict[int, str] = {}

    def try_place(person: str, seen: set[int]) -> bool:
        for s, rule_index in enumerate(slots):
            if s in seen or rules[rule_index].group not in groups[person]:
                continue
            seen.add(s)
            holder = slot_owner.get(s)
            if holder is None or try_place(holder, seen):
                slot_owner[s] = person
                return True
        return False

    for person in sorted(groups):
        try_place(person, set())

    progress = []
    for i, rule in enumerate(rules):
        people = sorted(p for s, p in slot_owner.items() if slots[s] == i)
        progress.append(RuleProgress(rule.group, rule.min_approvals, len(people), tuple(people)))
    return progress


def quorum_met(rules: Sequence[Rule], approvers: Mapping[str, Iterable[str]]) -> bool:
    return bool(rules) and all(p.met for p in assign(rules, approvers))
