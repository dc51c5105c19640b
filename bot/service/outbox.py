"""Deliver outbox rows: claim (and read what the delivery needs), deliver, record the outcome.

At least once, with idempotent handlers, is exactly once in effect: a row is
claimed with a lease, delivered, then marked; a crash in between leaves a claim
that runs out, and the row is delivered again by whoever sweeps next.

Each delivery takes two transactions: the one that claims a batch of rows also reads what
their deliveries need (``Stage.prepare``: the request; for a chat message its whole view,
and the claim on posting it), and one records the outcome (``Stage.record``: where a
message was posted, with the row's new state). ``Delivery`` (``delivery.py``) runs the
dispatcher on the serving loop when a commit asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain import errors
from bot.domain.backoff import retry_delay
from bot.domain.names import EffectKind, OutboxState, is_chat
from bot.domain.outbox import DeliveryOutcome, OutboxItem, Retry
from bot.domain.tokens import ApiToken
from bot.ports.clock import Clock
from bot.ports.effects import EffectHandler, PermanentEffectError, RetryLater
from bot.ports.store import UnitOfWorkFactory
from bot.service.logctx import bind_request
from bot.service.stages import Claimed, Stage, as_stage
from bot.service.unit_of_work import lane

log = logging.getLogger("bot.outbox")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A failing effect is tried again with capped exponential backoff (``base_seconds``
    doubling up to ``cap_seconds``) until it has failed for ``give_up_after_seconds``; then
    it is dead-lettered. ``max_attempts``, when set, also dead-letters it after that many
    failed attempts. A wait its system asked for (``RetryLater``) is no failure: it neither
    counts as an attempt nor starts the window."""

    max_attempts: int | None = None
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    lease_seconds: float = 60.0
    timeout_seconds: float = 30.0
    give_up_after_seconds: float = 24 * 3600.0


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
    later: float | None = None  # its system asked to wait this many seconds: no failure


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
    """Most specific first: ``chat.post:<channel>``, ``chat.post``, ``chat:<channel>``, ``chat``,
    ``*``.

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
        out[lane(kind)] = (*out.get(lane(kind), ()), kind)
    return out


# Effects go out in lanes, one per system they reach (chat, mlflow, kfp), each claiming its
# own rows with its own limit: a slow MLflow server never holds back a promotion launch or
# a chat message behind it.
LANES = _lanes()


def ordering(item: OutboxItem) -> tuple[str, str]:
    """Effects with the same key are delivered one after the other, in order: a request's
    (or a divergence's alert's) messages in one channel. A decision's MLflow run and its
    promotion launch do not wait for each other (nor for the messages)."""
    request = item.request_id or item.payload.get("divergence") or f"#{item.id}"
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
        handlers: Mapping[str, EffectHandler | Stage],
        *,
        clock: Clock,
        retry: RetryPolicy | None = None,
        batch: int = 20,
        parallel: int = 8,
        jitter: Callable[[], float] = random.random,
        on_outcome: Callable[[OutboxItem, str], None] | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.uow = uow
        self.stages: dict[str, Stage] = {k: as_stage(h) for k, h in handlers.items()}
        # key -> why effects matching it cannot be delivered here (the system's setting)
        self.unavailable = dict(unavailable or {})
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.batch = batch
        self.parallel = parallel
        self.jitter = jitter
        self.on_outcome = on_outcome

    def add(self, key: str, handler: EffectHandler | Stage) -> None:
        """Deliver effects matching ``key`` (``handler_key``) with ``handler``."""
        self.stages[key] = as_stage(handler)

    def stage_for(self, item: OutboxItem) -> Stage | None:
        for key in handler_key(item):
            if key in self.stages:
                return self.stages[key]
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

    def _claim(self, token: str, kinds: Sequence[str]) -> list[Claimed]:
        """Claim due rows of ``kinds`` and read what their deliveries need, in one go."""
        now = self.clock.now()
        with self.uow() as uow:
            items = uow.outbox.claim(
                now,
                limit=self.batch,
                lease_until=now + timedelta(seconds=self.retry.lease_seconds),
                token=token,
                kinds=kinds,
            )
            if not items:
                return []
            stages = [self.stage_for(i) for i in items]
            prepared: dict[int, Any] = {}
            for stage in {id(s): s for s in stages if s is not None}.values():
                mine = [i for i, s in zip(items, stages, strict=True) if s is stage]
                try:
                    prepared.update(stage.prepare(uow, mine, now))
                except errors.DomainError as exc:
                    prepared.update({i.id: exc for i in mine})
            uow.commit()
        return [Claimed(i, s, prepared.get(i.id)) for i, s in zip(items, stages, strict=True)]

    def _finish(self, token: str, claimed: Claimed, attempt: Attempt) -> Outcome:
        """Record how the delivery went (and what it left behind), in one transaction."""
        now = self.clock.now()
        item = claimed.item
        with self.uow() as uow:
            durable = False
            if claimed.stage is not None:
                durable = claimed.stage.record(uow, item, claimed.prepared, now)
            if not durable:
                uow.outbox.without_waiting_for_disk()
            outcome, state = self._outcome(item, attempt, now)
            if uow.outbox.finish(state, token, at=now):
                uow.commit()
                return outcome
            if durable:
                uow.commit()
        return Outcome.LOST_CLAIM

    def _outcome(
        self, item: OutboxItem, attempt: Attempt, now: datetime
    ) -> tuple[Outcome, DeliveryOutcome]:
        error = attempt.error
        if attempt.waiting is not None:
            return Outcome.WAITING, DeliveryOutcome.waiting(item, attempt.waiting)
        if error is None:
            return Outcome.DELIVERED, DeliveryOutcome.delivered(item)
        if attempt.later is not None and not attempt.permanent:
            at = now + timedelta(seconds=max(attempt.later, 0.0))
            return Outcome.RETRYING, DeliveryOutcome.later(item, error, at)
        since = item.failing_since or now
        window = timedelta(seconds=self.retry.give_up_after_seconds)
        counted_out = self.retry.max_attempts is not None and (
            item.attempts >= self.retry.max_attempts
        )
        if attempt.permanent or now - since >= window or counted_out:
            return Outcome.DEAD, DeliveryOutcome.dead(item, error)
        delay = retry_delay(
            item.attempts,
            base=self.retry.base_seconds,
            cap=self.retry.cap_seconds,
            jitter=self.jitter(),
        )
        return Outcome.RETRYING, DeliveryOutcome.retrying(item, error, now + delay, since=since)

    # -- async driver ---------------------------------------------------------

    async def deliver_due(self, lanes: Collection[str] | None = None) -> DeliveryReport:
        """Deliver everything due now in ``lanes`` (all of them by default): each lane
        (``LANES``) batch after batch, the lanes side by side.

        Within a batch effects are delivered concurrently (up to ``parallel`` at once per
        lane), except those that must keep their order (``ordering``), and each outcome is
        recorded as soon as it is known: a slow effect never holds back the record of
        another (a crash then would deliver that one again).
        """
        report = DeliveryReport()
        token = secrets.token_hex(8)
        wanted = [kinds for name, kinds in LANES.items() if lanes is None or name in lanes]
        await all_of(self._drain(kinds, token, report) for kinds in wanted)
        return report

    async def _drain(self, kinds: Sequence[str], token: str, report: DeliveryReport) -> None:
        gate = asyncio.Semaphore(self.parallel)

        async def in_order(group: list[Claimed]) -> None:
            async with gate:
                for claimed in group:
                    report.add(claimed.item.id, await self._deliver_one(claimed, token))

        while True:
            batch = await asyncio.to_thread(self._claim, token, kinds)
            if not batch:
                return
            lines: dict[tuple[str, str], list[Claimed]] = {}
            for claimed in batch:
                lines.setdefault(ordering(claimed.item), []).append(claimed)
            await all_of(in_order(g) for g in lines.values())
            if len(batch) < self.batch:
                return

    async def _deliver_one(self, claimed: Claimed, token: str) -> Outcome:
        item = claimed.item
        with bind_request(item.request_id):
            attempt = await self._attempt(claimed)
        outcome = await asyncio.to_thread(self._finish, token, claimed, attempt)
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

    async def _attempt(self, claimed: Claimed) -> Attempt:
        """Deliver (or find nothing here delivers it: the effect waits)."""
        if claimed.stage is None:
            return Attempt(waiting=self.waiting_reason(claimed.item))
        try:
            if isinstance(claimed.prepared, errors.DomainError):
                raise claimed.prepared
            note = await asyncio.wait_for(
                claimed.stage.deliver(claimed.item, claimed.prepared),
                timeout=self.retry.timeout_seconds,
            )
        except PermanentEffectError as exc:
            return Attempt(error=str(exc) or type(exc).__name__, permanent=True)
        except RetryLater as exc:
            return Attempt(error=f"waiting: {exc.reason}"[:500], later=exc.seconds)
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
            ready = [i.id for i in waiting if self.stage_for(i) is not None]
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
            by = token.audit() if token is not None else {}
            if item is None or not uow.outbox.retry(Retry(item, actor, by), now):
                return False
            uow.commit()
        return True
