"""What delivers effects: the handlers of each system, and the promotion launcher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.model import ApprovalRequest
from bot.domain.outbox import OutboxItem


class PermanentEffectError(Exception):
    """An effect that can never succeed (bad configuration, missing object): dead-letter now."""


class RetryLater(Exception):
    """Not a failure: the platform asked to wait (a 429's retry_after, pacing). The outbox
    schedules the next attempt after ``seconds`` without counting an attempt."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class EffectHandler(Protocol):
    """Delivers one kind of effect. Must be idempotent: the outbox delivers at least once.

    The outbox reads the request in the transaction that claims the row and hands it over.
    Raise ``PermanentEffectError`` for what retrying cannot fix; any other exception is
    retried with backoff. The return value is a short note for the log. (The chat channels'
    effects go through the chat core instead: ``bot/service/chat/publisher.py``.)
    """

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A promotion run's state as the launcher reports it."""

    run_id: str
    state: str
    terminal: bool
    succeeded: bool
    detail: str = ""


class PromotionLauncher(Protocol):
    """Starts the promotion pipeline for an approved request and reports on it.

    ``launch`` must be idempotent on ``idempotency_key`` (look it up first): the
    outbox may call it twice. Both are async; blocking SDKs run in worker threads.
    """

    async def launch(self, request: ApprovalRequest, idempotency_key: str) -> str: ...
    async def deploy(self, payload: Mapping[str, Any], idempotency_key: str) -> str:
        """Start a promotion run serving the version ``@champion`` names, for the divergence
        in ``payload`` (a ``kfp.deploy_champion`` row, docs/watch.md); idempotent likewise."""
        ...

    async def status(self, run_id: str) -> RunStatus: ...
