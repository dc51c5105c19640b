"""Deliver outbox rows: claim, call the handler, record the outcome.

At least once, with idempotent handlers, is exactly once in effect: a row is
claimed with a lease, delivered, then marked; a crash in between leaves a claim
that runs out, and the row is delivered again by whoever sweeps next.

``Delivery`` runs the dispatcher on the serving loop when a commit asks for it
(``kick``), one pass at a time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.backoff import retry_delay
from bot.domain.effects import CHAT_NOTICE, CHAT_UPDATE, Effect, EffectKind, is_chat
from bot.domain.model import ApprovalRequest, Event
from bot.domain.names import SYSTEM, EventKind, OutboxState
from bot.domain.tokens import ApiToken
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


class Outcome(StrEnum):
    """What one delivery attempt came to (metrics label it so)."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    DEAD = "dead"
    WAITING = "waiting"  # its system is not configured here: not counted as an attempt
    LOST_CLAIM = "lost-claim"  # another deliverer took the row over (our lease ran out)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What calling the handler came to."""

    error: str | None = None
    permanent: bool = False
    waiting: str | None = None  # why it waits: no handler for it in this process
    note: str | None = None


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.dead) + len(self.waiting)

    def add(self, item_id: int, outcome: Outcome) -> None:
        buckets = {
            Outcome.DELIVERED: self.delivered,
            Outcome.DEAD: self.dead,
            Outcome.WAITING: self.waiting,
        }
        buckets.get(outcome, self.retrying).append(item_id)


def handler_key(item: OutboxItem) -> list[str]:
    """Most specific first: ``chat.post:slack``, ``chat.post``, ``chat:slack``, ``chat``, ``*``.

    A channel's handler registers ``chat:<channel>``; a system registers its kinds; ``*``
    forwards everything that has no handler of its own (the webhook).
    """
    keys = []
    channel = item.payload.get("channel")
    family = item.kind.split(".")[0]
    if channel:
        keys.append(f"{item.kind}:{channel}")
    keys.append(item.kind)
    if channel:
        keys.append(f"{family}:{channel}")
    keys += [family, "*"]
    return keys


def _lanes() -> dict[str, tuple[EffectKind, ...]]:
    out: dict[str, tuple[EffectKind, ...]] = {}
    for kind in EffectKind:
        family = kind.value.split(".")[0]
        out[family] = (*out.get(family, ()), kind)
    return out


# Effects go out in lanes, one per system they reach (chat, mlflow, kfp), each claiming its
# own rows with its own limit: a slow MLflow server never holds back a promotion launch or
# a chat message behind it.
LANES = _lanes()


def ordering(item: OutboxItem) -> tuple[str, str]:
    """Effects with the same key are delivered one after the other, in order: a request's
    messages in one channel. A decision's MLflow run and its promotion launch do not wait
    for each other (nor for the messages)."""
    request = item.request_id or f"#{item.id}"
    if is_chat(item.kind):
        return request, f"chat:{item.payload.get('channel', '')}"
    return request, item.kind


async def all_of(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run them together and wait for every one; then raise the first error, if any (a
    database outage fails them all: none is left running with its error unread)."""
    for result in await asyncio.gather(*coroutines, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result


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
        parallel: int = 8,
        jitter: Callable[[], float] = random.random,
        on_outcome: Callable[[OutboxItem, str], None] | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.uow = uow
        self.handlers = dict(handlers)
        # key -> why effects matching it cannot be delivered here (the system's setting)
        self.unavailable = dict(unavailable or {})
        self.clock = clock
        self.channels = channels
        self.retry = retry or RetryPolicy()
        self.batch = batch
        self.parallel = parallel
        self.jitter = jitter
        self.on_outcome = on_outcome

    def handler_for(self, item: OutboxItem) -> EffectHandler | None:
        for key in handler_key(item):
            if key in self.handlers:
                return self.handlers[key]
        return None

    def waiting_reason(self, item: OutboxItem) -> str:
        """Why ``item`` cannot be delivered by this process (it has no handler for it)."""
        for key in handler_key(item):
            if key in self.unavailable:
                return self.unavailable[key]
        channel = item.payload.get("channel")
        if is_chat(item.kind) and channel:
            return f"the {channel} channel is not configured"
        return f"nothing here delivers {item.kind}"

    # -- blocking parts (run in a worker thread) ----------------------------

    def _claim(self, token: str, kinds: Sequence[str]) -> list[OutboxItem]:
        now = self.clock.now()
        with self.uow() as uow:
            items = uow.outbox.claim(
                now,
                limit=self.batch,
                lease_until=now + timedelta(seconds=self.retry.lease_seconds),
                token=token,
                kinds=kinds,
            )
            uow.commit()
        return items

    def _load(self, item: OutboxItem) -> ApprovalRequest | None:
        if item.request_id is None:
            return None
        with self.uow(readonly=True) as uow:
            return uow.requests.get(item.request_id)

    def _finish_all(self, token: str, attempts: list[tuple[OutboxItem, Attempt]]) -> list[Outcome]:
        """Record how deliveries went, in one transaction."""
        now = self.clock.now()
        with self.uow() as uow:
            uow.outbox.without_waiting_for_disk()
            outcomes = [self._outcome(uow, item, token, a, now) for item, a in attempts]
            if any(o is not Outcome.LOST_CLAIM for o in outcomes):
                uow.commit()
        return outcomes

    def _outcome(
        self, uow: UnitOfWork, item: OutboxItem, token: str, attempt: Attempt, now: datetime
    ) -> Outcome:
        error, permanent = attempt.error, attempt.permanent
        if attempt.waiting is not None:
            ok = uow.outbox.park(item.id, token, reason=attempt.waiting, at=now)
            return Outcome.WAITING if ok else Outcome.LOST_CLAIM
        if error is None:
            if not uow.outbox.finish(item.id, token, state=OutboxState.DELIVERED, at=now):
                return Outcome.LOST_CLAIM
            if not is_chat(item.kind):
                data = {"kind": item.kind, "key": item.key}
                uow.audit.append(
                    item.request_id, [Event(EventKind.EFFECT_DELIVERED, SYSTEM, data)], now
                )
            return Outcome.DELIVERED
        if permanent or item.attempts >= self.retry.max_attempts:
            if not uow.outbox.finish(item.id, token, state=OutboxState.DEAD, at=now, error=error):
                return Outcome.LOST_CLAIM
            self._report_dead(uow, item, error, now)
            return Outcome.DEAD
        delay = retry_delay(
            item.attempts,
            base=self.retry.base_seconds,
            cap=self.retry.cap_seconds,
            jitter=self.jitter(),
        )
        ok = uow.outbox.finish(
            item.id,
            token,
            state=OutboxState.PENDING,
            at=now,
            error=error,
            next_attempt_at=now + delay,
        )
        return Outcome.RETRYING if ok else Outcome.LOST_CLAIM

    def _report_dead(self, uow: UnitOfWork, item: OutboxItem, error: str, now: datetime) -> None:
        data = {"kind": item.kind, "key": item.key, "attempts": item.attempts, "error": error}
        [seq] = uow.audit.append(
            item.request_id, [Event(EventKind.EFFECT_FAILED, SYSTEM, data)], now
        )
        if item.kind == CHAT_NOTICE or item.request_id is None:
            return  # never report a failed report: no loops
        rid = item.request_id
        if not is_chat(item.kind):
            # The request's messages show what failed (views.launch_problem): render them
            # again, in every channel (keyed by this death, so a later one renders again).
            uow.outbox.add(
                [
                    Effect(
                        CHAT_UPDATE, f"{rid}:update:dead:{item.id}:{seq}:{c}", rid, {"channel": c}
                    )
                    for c in self.channels
                ],
                now,
            )
        text = (
            f"⚠️ {item.kind} failed after {item.attempts} attempt(s) and was dead-lettered: "
            f"{error}. Retry with `approval-bot outbox retry {item.id}`."
        )
        notices = [
            Effect(CHAT_NOTICE, f"{rid}:dead:{item.id}:{c}", rid, {"channel": c, "text": text})
            for c in self.channels
        ]
        uow.outbox.add(notices, now)

    # -- async driver ---------------------------------------------------------

    async def deliver_due(self) -> DeliveryReport:
        """Deliver everything due now: each lane (``LANES``) batch after batch, the lanes
        side by side.

        Within a batch effects are delivered concurrently (up to ``parallel`` at once per
        lane), except those that must keep their order (``ordering``), and each outcome is
        recorded as soon as it is known: a slow effect never holds back the record of
        another (a crash then would deliver that one again).
        """
        report = DeliveryReport()
        token = secrets.token_hex(8)
        await all_of(self._drain(kinds, token, report) for kinds in LANES.values())
        return report

    async def _drain(self, kinds: Sequence[str], token: str, report: DeliveryReport) -> None:
        gate = asyncio.Semaphore(self.parallel)

        async def in_order(group: list[OutboxItem]) -> None:
            async with gate:
                for item in group:
                    report.add(item.id, await self._deliver_one(item, token))

        while True:
            items = await asyncio.to_thread(self._claim, token, kinds)
            if not items:
                return
            lines: dict[tuple[str, str], list[OutboxItem]] = {}
            for item in items:
                lines.setdefault(ordering(item), []).append(item)
            await all_of(in_order(g) for g in lines.values())
            if len(items) < self.batch:
                return

    async def _deliver_one(self, item: OutboxItem, token: str) -> Outcome:
        with bind_request(item.request_id):
            attempt = await self._attempt(item)
        [outcome] = await asyncio.to_thread(self._finish_all, token, [(item, attempt)])
        self._note(item, attempt, outcome)
        return outcome

    def _note(self, item: OutboxItem, attempt: Attempt, outcome: Outcome) -> None:
        with bind_request(item.request_id):
            if outcome is Outcome.DELIVERED:
                note = f": {attempt.note}" if attempt.note else ""
                log.info("effect %s delivered (%s)%s", item.kind, item.key, note)
            elif outcome is Outcome.WAITING:
                log.warning("effect %s waits: %s", item.kind, attempt.waiting)
            else:
                log.warning(
                    "effect %s %s after attempt %d: %s",
                    item.kind,
                    outcome,
                    item.attempts,
                    attempt.error,
                )
        if self.on_outcome is not None:
            self.on_outcome(item, outcome)

    async def _attempt(self, item: OutboxItem) -> Attempt:
        """Call the handler (or find there is none here: the effect waits)."""
        handler = self.handler_for(item)
        if handler is None:
            return Attempt(waiting=self.waiting_reason(item))
        try:
            wanted = getattr(handler, "needs_request", True)
            request = await asyncio.to_thread(self._load, item) if wanted else None
            note = await asyncio.wait_for(
                handler.deliver(item, request), timeout=self.retry.timeout_seconds
            )
        except PermanentEffectError as exc:
            return Attempt(error=str(exc) or type(exc).__name__, permanent=True)
        except TimeoutError:
            return Attempt(error=f"timed out after {self.retry.timeout_seconds:g}s")
        except Exception as exc:
            return Attempt(error=f"{type(exc).__name__}: {exc}"[:500])
        return Attempt(note=note)

    # -- operator commands ------------------------------------------------------

    def release_waiting(self, limit: int = 500) -> int:
        """Waiting rows this process can deliver go back in the queue; how many did.

        Run before a sweep: a system configured since (a restart with its settings) then
        delivers what waited for it.
        """
        now = self.clock.now()
        with self.uow() as uow:
            waiting = uow.outbox.items(state=OutboxState.WAITING, limit=limit)
            ready = [i.id for i in waiting if self.handler_for(i) is not None]
            moved = uow.outbox.release(ready, now)
            if moved:
                uow.commit()
        return moved

    def retry_item(self, item_id: int, *, actor: str, token: ApiToken | None = None) -> bool:
        """Put a dead, waiting (or pending) row back in the queue with its attempts reset,
        and say in the audit log who did (``actor``: the channel; ``token``: the API's)."""
        now = self.clock.now()
        with self.uow() as uow:
            item = uow.outbox.get(item_id)
            if item is None or not uow.outbox.retry(item_id, now):
                return False
            data = {"item": item_id, "kind": item.kind, "was": item.state.value}
            data |= token.audit() if token is not None else {}
            uow.audit.append(item.request_id, [Event(EventKind.OUTBOX_RETRIED, actor, data)], now)
            uow.commit()
        return True
