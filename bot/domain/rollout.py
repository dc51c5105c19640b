"""A canary rollout, as the bot knows it: what the promotion reports, what people ask.

The promotion run walks the canary (pipelines/steps/canary.py) and reports each step to the
bot (``report``: phase, step, traffic split, analysis numbers), which the request's message
shows. People steer it from chat: **Pause**, **Resume**, **Roll back**, **Promote now**
(``control``); the run polls the resulting signal and acts on it. Who may: the policy's
approver groups, and for a rollback its ``rollback_groups`` (by default the same groups; it
can be wider, e.g. the on-call group). Each accepted action is an event (``rollout_controlled``),
so audited and shown; one that changes nothing (pausing a paused rollout, a second click on
another replica) is refused, so two replicas act once: the request row is locked while it is
decided. Mixed into ``ApprovalRequest``, whose field ``rollout`` holds the state (None: no
canary reported).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.domain import errors
from bot.domain.events import Event
from bot.domain.names import SYSTEM, EventKind
from bot.domain.policy import Policy
from bot.domain.states import State


class RolloutAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    ROLLBACK = "rollback"
    PROMOTE_NOW = "promote_now"


# The signal the promotion run reads after each action (pipelines/steps/control.py).
SIGNAL = {
    RolloutAction.PAUSE: "pause",
    RolloutAction.RESUME: "run",
    RolloutAction.ROLLBACK: "rollback",
    RolloutAction.PROMOTE_NOW: "promote_now",
}
# How people say each action (buttons, commands, refusals)
VERB = {
    RolloutAction.PAUSE: "pause",
    RolloutAction.RESUME: "resume",
    RolloutAction.ROLLBACK: "roll back",
    RolloutAction.PROMOTE_NOW: "promote now",
}
# Which signals each action may follow: anything else changes nothing and is refused.
_FROM = {
    RolloutAction.PAUSE: ("run",),
    RolloutAction.RESUME: ("pause",),
    RolloutAction.ROLLBACK: ("run", "pause"),
    RolloutAction.PROMOTE_NOW: ("run", "pause"),
}
_DONE = {"pause": "paused", "run": "running", "rollback": "being rolled back"}
_DONE["promote_now"] = "being promoted now"
FINAL_PHASES = ("promoted", "rolled back")
PROGRESS_KEYS = (
    "phase",
    "step",
    "steps",
    "canary_revision",
    "previous_revision",
    "traffic",
    "analysis",
    "passed",
    "by",
    "reason",
    "restored",
)


def allowed_groups(policy: Policy, action: RolloutAction) -> frozenset[str]:
    if action is RolloutAction.ROLLBACK:
        return frozenset(policy.rollback_groups) or policy.approver_groups
    return policy.approver_groups


class Rolled(Protocol):
    id: str
    state: State
    rollout: dict[str, Any] | None
    events: list[Event]


class Canary:
    """The rollout's rules, mixed into ``ApprovalRequest``."""

    __slots__ = ()
    rollout: dict[str, Any] | None  # the field of ApprovalRequest this state lives in

    @property
    def signal(self: Rolled) -> str:
        return str((self.rollout or {}).get("control") or "run")

    def report_rollout(self: Rolled, progress: dict[str, Any], *, now: datetime) -> None:
        """The promotion run's progress (only while promoting)."""
        if self.state is not State.PROMOTING:
            raise errors.Refused(f"request {self.id} is {self.state.value}, not promoting")
        kept = {k: progress[k] for k in PROGRESS_KEYS if k in progress}
        rollout = {**(self.rollout or {}), "progress": kept, "reported_at": now.isoformat()}
        rollout.setdefault("control", "run")
        self.rollout = rollout
        data = {k: kept[k] for k in ("phase", "step", "traffic", "passed") if k in kept}
        self.events.append(Event(EventKind.ROLLOUT_PROGRESSED, SYSTEM, data))

    def control_rollout(
        self: Rolled,
        action: RolloutAction,
        *,
        actor: str,
        groups: frozenset[str],
        policy: Policy,
        now: datetime,
    ) -> None:
        """Pause, resume, roll back or promote now, as ``actor`` (in ``groups``)."""
        progress = (self.rollout or {}).get("progress") or {}
        if self.state is not State.PROMOTING or not progress:
            raise errors.Refused(f"request {self.id} has no canary rollout running")
        if progress.get("phase") in FINAL_PHASES:
            raise errors.Refused(f"the canary of request {self.id} is {progress['phase']}")
        allowed = allowed_groups(policy, action)
        if not groups & allowed:
            raise errors.NotEligible(
                f"only {', '.join(sorted(allowed))} may {VERB[action]} "
                f"the canary of request {self.id}"
            )
        current = str(self.rollout.get("control") or "run") if self.rollout else "run"
        if current not in _FROM[action]:
            raise errors.Refused(f"the canary of request {self.id} is {_DONE[current]} already")
        self.rollout = {
            **(self.rollout or {}),
            "control": SIGNAL[action],
            "control_by": actor,
            "control_at": now.isoformat(),
        }
        step = progress.get("step")
        self.events.append(
            Event(EventKind.ROLLOUT_CONTROLLED, actor, {"action": action.value, "step": step})
        )
