"""A model's policy: who must approve, by when, and what happens otherwise."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.domain.quorum import Rule


class ExpiryAction(StrEnum):
    ARCHIVE = "archive"
    REJECT = "reject"
    KEEP = "keep"


DEFAULT_CANARY_STEPS = (10, 25, 50, 100)  # the steps, as the pipeline's "default"
DEFAULT_CANARY_DWELL_SECONDS = 300
MAX_CANARY_DWELL_SECONDS = 86400  # as APPROVAL_BOT_PROMOTION_CANARY_DWELL_SECONDS


class CanaryError(ValueError):
    """A bad canary: ``field`` is the key it is about (``steps``, ``dwell_seconds``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CanarySpec:
    """A policy's canary (docs/kserve.md, "Canary"): traffic percentages strictly rising to
    100 and how long each step dwells before its analysis."""

    steps: tuple[int, ...] = DEFAULT_CANARY_STEPS
    dwell_seconds: int = DEFAULT_CANARY_DWELL_SECONDS

    @classmethod
    def of(
        cls,
        steps: Sequence[int] = DEFAULT_CANARY_STEPS,
        dwell_seconds: int = DEFAULT_CANARY_DWELL_SECONDS,
    ) -> CanarySpec:
        """Raise ``CanaryError`` (one line, naming the field) for a bad canary."""
        found = tuple(steps)
        if not found:
            raise CanaryError(
                "steps", "no steps: percentages rising to 100, e.g. [10, 25, 50, 100]"
            )
        for step in found:
            if type(step) is not int or not 1 <= step <= 100:
                raise CanaryError("steps", f"{step!r} is not a percentage from 1 to 100")
        if not all(a < b for a, b in itertools.pairwise(found)):
            raise CanaryError("steps", f"{list(found)} must rise strictly, e.g. [10, 25, 50, 100]")
        if found[-1] != 100:
            raise CanaryError(
                "steps", f"{list(found)} must end at 100 (the last step moves all the traffic)"
            )
        if type(dwell_seconds) is not int or not 1 <= dwell_seconds <= MAX_CANARY_DWELL_SECONDS:
            raise CanaryError(
                "dwell_seconds",
                f"{dwell_seconds!r} is not a number of seconds from 1 to "
                f"{MAX_CANARY_DWELL_SECONDS} (one day)",
            )
        return cls(found, dwell_seconds)

    def as_json(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "dwell_seconds": self.dwell_seconds}

    @classmethod
    def from_json(cls, data: Any) -> CanarySpec | None:
        if not isinstance(data, dict):
            return None
        return cls(tuple(int(s) for s in data["steps"]), int(data["dwell_seconds"]))

    def parameters(self) -> dict[str, Any]:
        """As the promotion pipeline's parameters (pipelines/definitions.py)."""
        steps = ",".join(str(s) for s in self.steps)
        return {"canary_steps": steps, "canary_dwell_seconds": self.dwell_seconds}


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
    # Promote approved versions with a canary (needs APPROVAL_BOT_PROMETHEUS_URL); None: as
    # the promotion target says (docs/kserve.md, "Canary").
    canary: CanarySpec | None = None

    @property
    def approver_groups(self) -> frozenset[str]:
        return frozenset(r.group for r in self.rules)

    def may_roll_back(self, groups: frozenset[str]) -> bool:
        """Is someone in ``groups`` authorized like a rollback?"""
        allowed = frozenset(self.rollback_groups) or self.approver_groups
        return bool(allowed & groups)
