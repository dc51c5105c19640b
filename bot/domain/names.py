"""The names the rules own: where a vote comes from, what the audit log records, how a
person is identified and where an effect stands. Everything else (the database, the API's
query parameters, the CLI's choices) is built from these, never from bare strings.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where an action comes from; the chat channels are also where messages go."""

    SLACK = "slack"
    TELEGRAM = "telegram"
    CONSOLE = "console"
    CLI = "cli"
    API = "api"


CHAT_CHANNELS = (Channel.SLACK, Channel.TELEGRAM, Channel.CONSOLE)


class IdentityKind(StrEnum):
    """How a channel identifies a person: never by display name or username."""

    NAME = "name"  # the configured person name (CLI, API)
    SLACK = "slack"  # Slack user id
    TELEGRAM = "telegram"  # Telegram user id
    EMAIL = "email"  # the console, behind an authenticating proxy

    @classmethod
    def of(cls, channel: str) -> IdentityKind:
        return _IDENTITY_OF_CHANNEL.get(channel, cls.NAME)

    def normalise(self, value: str) -> str | None:
        """The canonical form of an identity value; None when it cannot be one."""
        value = value.strip()
        if self is IdentityKind.EMAIL:
            return value.lower() or None
        if self is IdentityKind.TELEGRAM:
            return value if value.lstrip("-").isdigit() else None
        return value or None


_IDENTITY_OF_CHANNEL = {
    Channel.SLACK: IdentityKind.SLACK,
    Channel.TELEGRAM: IdentityKind.TELEGRAM,
    Channel.CONSOLE: IdentityKind.EMAIL,
    "email": IdentityKind.EMAIL,
}


class EventKind(StrEnum):
    """What the audit log records."""

    SUBMITTED = "submitted"
    VOTED = "voted"
    DENIED = "denied"
    DECIDED = "decided"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    PROMOTION_STARTED = "promotion_started"
    PROMOTION_FINISHED = "promotion_finished"
    EFFECT_DELIVERED = "effect_delivered"
    EFFECT_FAILED = "effect_failed"
    CHALLENGER_MOVED_ON = "challenger_moved_on"
    CONFIG_APPLIED = "config_applied"
    TOKEN_CREATED = "token_created"  # noqa: S105 (an event name, not a secret)
    TOKEN_REVOKED = "token_revoked"  # noqa: S105
    OUTBOX_RETRIED = "outbox_retried"  # an operator put an effect back in the queue


class OutboxState(StrEnum):
    """Where an effect stands: pending → delivering → delivered, or dead after the last try.

    ``waiting``: the system it needs is not configured in the process that tried it; it
    waits, without using up attempts, until a process that has the system delivers it.
    """

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"
    WAITING = "waiting"


# Actors that are not people.
SYSTEM = "system"
SYSTEM_DEADLINE = "system:deadline"
