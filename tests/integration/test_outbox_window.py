"""The outbox retries for a time, not a count: a failing effect is tried again with capped
exponential backoff until it has failed for ``give_up_after``; a wait its system asked for
(``RetryLater``: a 429's retry_after, pacing) is no failure. On the fakes and both
databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.effects import LOG_DECISION
from bot.domain.model import VoteKind
from bot.domain.outbox import OutboxItem
from bot.ports.effects import RetryLater
from bot.service import Services
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from tests import builders

HOUR = 3600.0


class Flaky:
    def __init__(self) -> None:
        self.calls = 0
        self.fail_with: Exception | None = None

    async def deliver(self, item: OutboxItem, request: object) -> str | None:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return "ok"


class Ok:
    async def deliver(self, item: OutboxItem, request: object) -> str | None:
        return "ok"


@pytest.fixture
def svc(service: Services) -> Services:
    service.admin.apply(builders.directory())
    return service


def dispatcher(svc: Services, handler: Flaky, **retry: float) -> OutboxDispatcher:
    policy = {"base_seconds": 10, "cap_seconds": 600, "give_up_after_seconds": 24 * HOUR, **retry}
    return OutboxDispatcher(
        svc.uow,
        {"*": Ok(), LOG_DECISION: handler},
        clock=svc.clock,
        retry=RetryPolicy(**policy),  # type: ignore[arg-type]
        jitter=lambda: 0.5,
    )


def approve(svc: Services) -> str:
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
    svc.commands.vote(rid, Identity("cli", "carol"), VoteKind.APPROVE)
    return rid


def row(svc: Services) -> OutboxItem:
    with svc.uow() as uow:
        return next(i for i in uow.outbox.items(limit=100) if i.kind == LOG_DECISION)


def run_until(svc: Services, clock, d: OutboxDispatcher, hours: float) -> None:  # type: ignore[no-untyped-def]
    """Deliver whatever is due, jumping to each next attempt, for ``hours``."""
    end = clock.now() + timedelta(hours=hours)
    while True:
        asyncio.run(d.deliver_due())
        item = row(svc)
        if item.state.value != "pending" or item.next_attempt_at is None:
            return
        if item.next_attempt_at > end:
            return
        clock.t = max(clock.now(), item.next_attempt_at)


def test_an_outage_of_hours_is_waited_out_with_capped_backoff(svc, clock):  # type: ignore[no-untyped-def]
    """The outbox gave up after 8 attempts (about 4 minutes): a Slack or Telegram outage
    longer than that left messages missing. Now 23 hours of failures are retried, the
    delay capped, and the effect goes out when the system is back."""
    flaky = Flaky()
    flaky.fail_with = ConnectionError("mlflow unreachable")
    d = dispatcher(svc, flaky)
    approve(svc)
    started = clock.now()
    run_until(svc, clock, d, hours=23)
    item = row(svc)
    assert item.state.value == "pending" and flaky.calls > 8
    assert item.failing_since == started
    assert item.next_attempt_at is not None
    assert item.next_attempt_at - clock.now() <= timedelta(seconds=600 * 1.5)  # capped
    flaky.fail_with = None
    clock.t = item.next_attempt_at
    asyncio.run(d.deliver_due())
    assert row(svc).state.value == "delivered"


def test_it_gives_up_once_it_has_failed_for_the_window(svc, clock):  # type: ignore[no-untyped-def]
    flaky = Flaky()
    flaky.fail_with = ConnectionError("mlflow unreachable")
    d = dispatcher(svc, flaky, give_up_after_seconds=2 * HOUR)
    approve(svc)
    started = clock.now()
    run_until(svc, clock, d, hours=3)
    item = row(svc)
    assert item.state.value == "dead" and "mlflow unreachable" in (item.last_error or "")
    assert clock.now() - started >= timedelta(hours=2)
    assert clock.now() - started < timedelta(hours=2, seconds=900)

    # An operator retries it: the window starts again.
    assert d.retry_item(item.id, actor="cli")
    asyncio.run(d.deliver_due())
    item = row(svc)
    assert item.state.value == "pending" and item.failing_since == clock.now()


def test_waits_the_platform_asks_for_are_not_failures(svc, clock):  # type: ignore[no-untyped-def]
    """Telegram's pacing and a long retry_after used attempts up: a busy group turned into
    dead letters. Now they schedule the next attempt after the wait, count nothing, and
    never dead-letter an effect, however long they go on."""
    flaky = Flaky()
    flaky.fail_with = RetryLater(40.0, "flood control: retry after 40")
    d = dispatcher(svc, flaky, give_up_after_seconds=HOUR, max_attempts=3)
    approve(svc)
    asyncio.run(d.deliver_due())
    item = row(svc)
    assert item.state.value == "pending" and item.attempts == 0 and item.failing_since is None
    assert item.next_attempt_at == clock.now() + timedelta(seconds=40)
    assert "retry after 40" in (item.last_error or "")
    run_until(svc, clock, d, hours=2)
    item = row(svc)
    assert item.state.value == "pending" and item.attempts == 0 and flaky.calls > 100


def test_max_attempts_still_dead_letters_when_set(svc, clock):  # type: ignore[no-untyped-def]
    flaky = Flaky()
    flaky.fail_with = ConnectionError("down")
    d = dispatcher(svc, flaky, max_attempts=3)
    approve(svc)
    run_until(svc, clock, d, hours=1)
    item = row(svc)
    assert item.state.value == "dead" and item.attempts == 3
