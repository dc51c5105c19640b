"""A model's policy: who must approve, by when, and what happens otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.domain.quorum import Rule


class ExpiryAction(StrEnum):
    ARCHIVE = "archive"
    REJECT = "reject"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class Policy:
    model: str
    rules: tuple[Rule, ...]
    deadline: timedelta = timedelta(hours=48)
    remind_every: timedelta | None = timedelta(hours=12)
    escalate_after: timedelta | None = None
    escalate_to: str | None = None
    on_expiry: ExpiryAction = ExpiryAction.ARCHIVE
    allow_self_approval: bool = False
    allow_override_failed_gates: bool = False
    reject_reason_required: bool = True
    # Approve, as the policy's decision, this long after a submission whose gates all passed
    # unless someone rejects it first (the veto window, bot/domain/window.py).
    auto_approve_after: timedelta | None = None
    # Who may undo what serving and the registry say (a rollback, the serving watch's
    # "Move the alias back", a canary's Roll back: bot/domain/rollout.py): these groups;
    # empty, the approver groups (``may_roll_back``).
    rollback_groups: tuple[str, ...] = ()

    @property
    def approver_groups(self) -> frozenset[str]:
        return frozenset(r.group for r in self.rules)

    def may_roll_back(self, groups: frozenset[str]) -> bool:
        """Is someone in ``groups`` authorized like a rollback?"""
        allowed = frozenset(self.rollback_groups) or self.approver_groups
        return bool(allowed & groups)
