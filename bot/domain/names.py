"""The names the rules own: where an action comes from, what the audit log records, what
an effect asks for and where it stands. Everything else (the database, the API's query
parameters, the CLI's choices) is built from these, never from bare strings.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where an action comes from besides the chat channels, which name themselves (each
    channel package declares its name, ``bot/adapters/plugin.py``)."""

    CLI = "cli"
    API = "api"


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
    WINDOW_CLOSED = "window_closed"  # a veto window's policy no longer approves by itself
    # The registry ↔ serving watch (docs/watch.md): what serving and @champion disagree on
    SERVING_DIVERGED = "serving_diverged"
    SERVING_CONVERGED = "serving_converged"
    SERVING_ALIAS_BACK = "serving_alias_back"  # someone asked to move @champion back
    SERVING_DEPLOY_CHAMPION = "serving_deploy_champion"  # someone asked to serve @champion
    SERVING_DEPLOY_FAILED = "serving_deploy_failed"  # that deploy's run failed
    ROLLOUT_PROGRESSED = "rollout_progressed"  # a canary step, as its promotion reported it
    ROLLOUT_CONTROLLED = "rollout_controlled"  # pause, resume, roll back, promote now


class EffectKind(StrEnum):
    """What an outbox row asks for. ``chat.*`` rows carry the channel in their payload."""

    LOG_DECISION = "mlflow.log_decision"
    ARCHIVE_CHALLENGER = "mlflow.archive_challenger"
    LAUNCH_PROMOTION = "kfp.launch_promotion"
    CHAT_POST = "chat.post"
    CHAT_UPDATE = "chat.update"
    CHAT_REMIND = "chat.remind"
    CHAT_NOTICE = "chat.notice"
    CHAT_EVIDENCE = "chat.evidence"  # the request's pictures, in its message's thread
    ALIAS_BACK = "mlflow.alias_back"  # @champion back to the served version (docs/watch.md)
    DEPLOY_CHAMPION = "kfp.deploy_champion"  # a promotion run serving @champion (docs/watch.md)
    CHAT_ALERT = "chat.alert"  # a divergence of serving and the registry (docs/watch.md)


def is_chat(kind: str) -> bool:
    """Is an outbox row of this kind a message in a chat channel?"""
    return kind.startswith("chat.")


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
SYSTEM_AUTO = "system:auto"  # a policy's veto window approved (bot/domain/window.py)
SYSTEM_WATCH = "system:watch"  # the registry ↔ serving watch (bot/domain/divergence.py)
