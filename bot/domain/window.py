"""The veto window: a low-risk model approved by its policy unless someone rejects it.

A policy with ``auto_approve_after`` (README.md, "Rules") opens a window on a request submitted
with gates that all passed (at least one gate, none failed): the request promotes at
``auto_approve_at`` unless someone rejects it first. Then the scheduler approves it as the
policy's decision (actor ``system:auto``, the policy named in the decision). While the window
is open no reminder, escalation or expiry applies: it ends before the deadline (the config
refuses a window as long as the deadline).

- A failed gate means no window, and so does an override (an approval over failed gates is
  only possible when a gate failed): the request waits for people as always.
- A reject inside the window rejects, as always. An approval inside it ("Approve now") is an
  ordinary vote: it approves at once when it completes the policy's quorum, and otherwise is
  counted while the window goes on. The window replaces the wait, not the quorum of the
  people who do click.
- The time is fixed at submission. A policy that no longer approves by itself when the time
  comes (``auto_approve_after`` taken out, or the policy removed) closes the window instead
  (``window_closed``): the request waits for people, its reminders and escalation counted
  from then on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain import errors
from bot.domain.events import Event
from bot.domain.gates import GateResult
from bot.domain.names import SYSTEM, SYSTEM_AUTO, EventKind
from bot.domain.policy import Policy
from bot.domain.states import State

_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def opens(
    policy: Policy, gates: Sequence[GateResult], now: datetime, deadline: datetime
) -> datetime | None:
    """When a new request's veto window ends, or None when it has none."""
    after = policy.auto_approve_after
    if after is None or not gates or not all(g.passed for g in gates):
        return None
    at = now + after
    return at if at < deadline else None


def written(duration: timedelta) -> str:
    """A duration as a config writes it: ``30m``, ``1h30m``."""
    seconds, parts = int(duration.total_seconds()), []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


class Windowed(Protocol):
    """What the window uses of the request it is mixed into."""

    id: str
    created_at: datetime
    deadline_at: datetime
    auto_approve_at: datetime | None
    auto_approve_policy: str | None
    next_reminder_at: datetime | None
    escalate_at: datetime | None
    events: list[Event]

    @property
    def is_pending(self) -> bool: ...

    @property
    def in_window(self) -> bool: ...

    def _decide(self, to: State, *, by: str, reason: str | None, now: datetime) -> None: ...


class VetoWindow:
    """The window's rules, mixed into ``ApprovalRequest`` (its fields ``auto_approve_at``,
    ``auto_approve_policy`` hold the window's state)."""

    __slots__ = ()

    @property
    def in_window(self: Windowed) -> bool:
        """Pending inside a veto window: no reminder, escalation or expiry applies."""
        return self.is_pending and self.auto_approve_at is not None

    def auto_approve(self: Windowed, *, policy: Policy, now: datetime) -> bool:
        """The window passed without a rejection: approve as the policy's decision (True), or,
        when ``policy`` (the one that applies now) no longer approves by itself, close the
        window (False). Refused before its time or without a window."""
        at = self.auto_approve_at
        if not self.in_window or at is None or now < at:
            raise errors.Refused(f"request {self.id} has no veto window that has ended")
        if policy.auto_approve_after is None:
            _close(self, policy, now)
            return False
        _approve(self, policy, at - self.created_at, now)
        return True


def _approve(request: Windowed, policy: Policy, window: timedelta, now: datetime) -> None:
    """The policy's decision: ``system:auto``, naming the policy."""
    request.auto_approve_policy = policy.model
    reason = (
        f"policy {policy.model!r}: no rejection within the {written(window)} veto window, "
        "every gate passed"
    )
    request._decide(State.APPROVED, by=SYSTEM_AUTO, reason=reason, now=now)
    request.events[-1].data["policy"] = policy.model  # the decided event names its policy


def _close(request: Windowed, policy: Policy, now: datetime) -> None:
    """The policy no longer approves by itself: the request waits for people from ``now``."""
    request.auto_approve_at = None
    remind = now + policy.remind_every if policy.remind_every else None
    escalating = policy.escalate_after and policy.escalate_to
    escalate = now + policy.escalate_after if escalating and policy.escalate_after else None
    request.next_reminder_at = remind if remind and remind < request.deadline_at else None
    request.escalate_at = escalate if escalate and escalate < request.deadline_at else None
    why = f"policy {policy.model!r} no longer approves by itself; waiting for approvers"
    request.events.append(
        Event(EventKind.WINDOW_CLOSED, SYSTEM, {"policy": policy.model, "reason": why})
    )
