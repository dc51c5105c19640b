"""Deliver outbox rows: claim, call the handler, record the outcome.

At least once, with idempotent handlers, is exactly once in effect: a row is
claimed with a lease, delivered, then marked; a crash in between leaves a claim
that runs out, and the row is delivered again by whoever sweeps next.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.backoff import retry_delay
from bot.domain.effects import CHAT_NOTICE, Effect
from bot.domain.model import ApprovalRequest, Event
from bot.ports import (
    Clock,
    EffectHandler,
    OutboxItem,
    PermanentEffectError,
    UnitOfWork,
    UnitOfWorkFactory,
)
from bot.service.logctx import bind_request

log = logging.getLogger("bot.outbox")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    lease_seconds: float = 60.0
    timeout_seconds: float = 30.0


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.dead)


def handler_key(item: OutboxItem) -> list[str]:
    """Most specific first: ``chat.post:slack``, ``chat.post``, ``chat:slack``, ``*``."""
    keys = []
    channel = item.payload.get("channel")
    if channel:
        keys.append(f"{item.kind}:{channel}")
    keys.append(item.kind)
    if channel:
        keys.append(f"{item.kind.split('.')[0]}:{channel}")
    keys.append("*")
    return keys


class OutboxDispatcher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        handlers: Mapping[str, EffectHandler],
        *,
        clock: Clock,
        channels: tuple[str, ...] = (),
        retry: RetryPolicy | None = None,
        batch: int = 20,
        jitter: Callable[[], float] = random.random,
        on_outcome: Callable[[OutboxItem, str], None] | None = None,
    ) -> None:
        self.uow = uow
        self.handlers = dict(handlers)
        self.clock = clock
        self.channels = channels
        self.retry = retry or RetryPolicy()
        self.batch = batch
        self.jitter = jitter
        self.on_outcome = on_outcome

    def handler_for(self, item: OutboxItem) -> EffectHandler | None:
        for key in handler_key(item):
            if key in self.handlers:
                return self.handlers[key]
        return None

    # -- blocking parts (run in a worker thread) ----------------------------

    def _claim(self, token: str) -> list[OutboxItem]:
        now = self.clock.now()
        with self.uow() as uow:
            items = uow.outbox.claim(
                now,
                limit=self.batch,
                lease_until=now + timedelta(seconds=self.retry.lease_seconds),
                token=token,
            )
            uow.commit()
        return items

    def _load(self, item: OutboxItem) -> ApprovalRequest | None:
        if item.request_id is None:
            return None
        with self.uow() as uow:
            return uow.requests.get(item.request_id)

    def _finish(self, item: OutboxItem, token: str, error: str | None, permanent: bool) -> str:
        now = self.clock.now()
        with self.uow() as uow:
            if error is None:
                state = "delivered"
                ok = uow.outbox.finish(item.id, token, state=state, at=now)
                if ok and not item.kind.startswith("chat."):
                    uow.audit.append(
                        item.request_id,
                        [Event("effect_delivered", "system", {"kind": item.kind, "key": item.key})],
                        now,
                    )
            elif permanent or item.attempts >= self.retry.max_attempts:
                state = "dead"
                ok = uow.outbox.finish(item.id, token, state=state, at=now, error=error)
                if ok:
                    self._report_dead(uow, item, error, now)
            else:
                state = "retrying"
                delay = retry_delay(
                    item.attempts,
                    base=self.retry.base_seconds,
                    cap=self.retry.cap_seconds,
                    jitter=self.jitter(),
                )
                ok = uow.outbox.finish(
                    item.id,
                    token,
                    state="pending",
                    at=now,
                    error=error,
                    next_attempt_at=now + delay,
                )
            if ok:
                uow.commit()
            else:
                state = "lost-claim"
        return state

    def _report_dead(self, uow: UnitOfWork, item: OutboxItem, error: str, now: datetime) -> None:
        uow.audit.append(
            item.request_id,
            [
                Event(
                    "effect_failed",
                    "system",
                    {"kind": item.kind, "key": item.key, "attempts": item.attempts, "error": error},
                )
            ],
            now,
        )
        if item.kind == CHAT_NOTICE or item.request_id is None:
            return  # never report a failed report: no loops
        text = (
            f"⚠️ {item.kind} failed after {item.attempts} attempt(s) and was dead-lettered: "
            f"{error}. Retry with `approval-bot outbox retry {item.id}`."
        )
        uow.outbox.add(
            [
                Effect(
                    CHAT_NOTICE,
                    f"{item.request_id}:dead:{item.id}:{c}",
                    item.request_id,
                    {"channel": c, "text": text},
                )
                for c in self.channels
            ],
            now,
        )

    # -- async driver ---------------------------------------------------------

    async def deliver_due(self) -> DeliveryReport:
        """Deliver everything due now, batch after batch."""
        report = DeliveryReport()
        token = secrets.token_hex(8)
        while True:
            items = await asyncio.to_thread(self._claim, token)
            if not items:
                return report
            for item in items:
                outcome = await self._deliver_one(item, token)
                {"delivered": report.delivered, "dead": report.dead}.get(
                    outcome, report.retrying
                ).append(item.id)
            if len(items) < self.batch:
                return report

    async def _deliver_one(self, item: OutboxItem, token: str) -> str:
        with bind_request(item.request_id):
            handler = self.handler_for(item)
            error: str | None = None
            permanent = False
            note: str | None = None
            if handler is None:
                error, permanent = f"no handler for {item.kind}", True
            else:
                try:
                    request = await asyncio.to_thread(self._load, item)
                    note = await asyncio.wait_for(
                        handler.deliver(item, request), timeout=self.retry.timeout_seconds
                    )
                except PermanentEffectError as exc:
                    error, permanent = str(exc) or type(exc).__name__, True
                except TimeoutError:
                    error = f"timed out after {self.retry.timeout_seconds:g}s"
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
            outcome = await asyncio.to_thread(self._finish, item, token, error, permanent)
            if outcome == "delivered":
                log.info(
                    "effect %s delivered (%s)%s", item.kind, item.key, f": {note}" if note else ""
                )
            else:
                log.warning(
                    "effect %s %s after attempt %d: %s", item.kind, outcome, item.attempts, error
                )
            if self.on_outcome is not None:
                self.on_outcome(item, outcome)
            return outcome

    # -- operator commands ------------------------------------------------------

    def retry_item(self, item_id: int) -> bool:
        with self.uow() as uow:
            ok = uow.outbox.retry(item_id, self.clock.now())
            if ok:
                uow.commit()
        return ok
