"""The outbox's rows as the rules see them, and what one delivery attempt came to.

An ``OutboxItem`` is an effect waiting to happen (a row of the outbox). Delivering it ends
in a ``DeliveryOutcome``: delivered, retrying later, dead (dead-lettered), or waiting for a
system this process does not have. The outcome is an aggregate: a delivered decision
effect and a dead one raise events for the audit log, and a dead one causes notices
(``bot/domain/effects.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.events import Event
from bot.domain.names import SYSTEM, EventKind, OutboxState, is_chat


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    key: str
    request_id: str | None
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    failing_since: datetime | None = None  # the first failure since it last went out (or retry)


@dataclass(slots=True)
class DeliveryOutcome:
    """Where a claimed row goes after an attempt: ``state``, with ``error`` and when to try
    again (``next_attempt_at``) where they apply. ``counted``: False when the attempt was no
    failure (its system asked to wait, or is not here): it is given back."""

    item: OutboxItem
    state: OutboxState
    error: str | None = None
    next_attempt_at: datetime | None = None
    events: list[Event] = field(default_factory=list)
    counted: bool = True
    failing_since: datetime | None = None

    @property
    def subject(self) -> str | None:
        return self.item.request_id

    @classmethod
    def delivered(cls, item: OutboxItem) -> DeliveryOutcome:
        outcome = cls(item, OutboxState.DELIVERED)
        if not is_chat(item.kind):  # chat messages are shown, not audited one by one
            data = {"kind": item.kind, "key": item.key}
            outcome.events.append(Event(EventKind.EFFECT_DELIVERED, SYSTEM, data))
        return outcome

    @classmethod
    def retrying(
        cls, item: OutboxItem, error: str, at: datetime, *, since: datetime
    ) -> DeliveryOutcome:
        """Failed; tried again ``at``. ``since``: when it started failing (the give-up
        window runs from there)."""
        return cls(item, OutboxState.PENDING, error=error, next_attempt_at=at, failing_since=since)

    @classmethod
    def later(cls, item: OutboxItem, reason: str, at: datetime) -> DeliveryOutcome:
        """Not a failure: its system asked to wait (a 429's retry_after, pacing) until
        ``at``. The attempt is given back and the give-up window does not move."""
        return cls(
            item,
            OutboxState.PENDING,
            error=reason,
            next_attempt_at=at,
            counted=False,
            failing_since=item.failing_since,
        )

    @classmethod
    def dead(cls, item: OutboxItem, error: str) -> DeliveryOutcome:
        outcome = cls(item, OutboxState.DEAD, error=error)
        data = {"kind": item.kind, "key": item.key, "attempts": item.attempts, "error": error}
        outcome.events.append(Event(EventKind.EFFECT_FAILED, SYSTEM, data))
        return outcome

    @classmethod
    def waiting(cls, item: OutboxItem, reason: str) -> DeliveryOutcome:
        """Its system is not configured here: it waits, the attempt not counted."""
        return cls(item, OutboxState.WAITING, error=reason, counted=False)


@dataclass(slots=True)
class Retry:
    """Someone put a row back in the queue (``actor``: where from; ``by``: which API token,
    as ``ApiToken.audit`` says)."""

    item: OutboxItem
    actor: str
    by: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        data = {"item": self.item.id, "kind": self.item.kind, "was": self.item.state.value}
        self.events.append(Event(EventKind.OUTBOX_RETRIED, self.actor, data | self.by))

    @property
    def subject(self) -> str | None:
        return self.item.request_id
