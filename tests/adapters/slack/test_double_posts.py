"""One Slack message per request, across replicas and crashes (README.md, "Connect Slack").

Two bot processes on one database deliver the same post at the same moment; a post whose
answer was lost is retried; a deliverer dies holding the claim; a reminder is redelivered.
Each time Slack ends up with one message (one thread reply), found again by its message
metadata instead of being posted twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator

import pytest

from bot.adapters.db.migrate import upgrade
from bot.bootstrap import Container
from bot.domain.effects import CHAT_POST, CHAT_REMIND
from bot.domain.outbox import OutboxItem
from tests.adapters.slack.conftest import CHANNEL, slack_settings
from tests.adapters.slack.fake_slack import FakeSlack
from tests.builders import directory, submission
from tests.fakes import FakeClock

DEADLINE = 10.0


@pytest.fixture
def two_replicas(pg_url: str, slack: FakeSlack) -> Iterator[tuple[Container, Container, FakeClock]]:
    """Two bot processes (each its own engine, services, Slack handler) on one PostgreSQL."""
    upgrade(pg_url)
    clock = FakeClock()
    a = slack_settings(pg_url, slack).build(clock=clock)
    b = slack_settings(pg_url, slack).build(clock=clock)
    a.services.admin.apply(directory())
    try:
        yield a, b, clock
    finally:
        a.close()
        b.close()


class Delivering:
    """The Slack channel's outbox stage, driven as the dispatcher drives it: read and claim in
    one transaction, deliver, record the outcome in another (unless the process died)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.stage = container.channels["slack"].stage

    def _prepare(self, item: OutboxItem):
        clock = self.container.services.clock
        with self.container.services.uow() as uow:
            prepared = self.stage.prepare(uow, [item], clock.now())[item.id]
            uow.commit()
        return prepared

    def _record(self, item: OutboxItem, prepared) -> None:
        clock = self.container.services.clock
        with self.container.services.uow() as uow:
            self.stage.record(uow, item, prepared, clock.now())
            uow.commit()

    async def deliver(self, item: OutboxItem, _request=None) -> str | None:
        prepared = await asyncio.to_thread(self._prepare, item)
        try:
            note = await self.stage.deliver(item, prepared)
        except asyncio.CancelledError:
            raise  # the process is gone: nothing is recorded
        except Exception:
            await asyncio.to_thread(self._record, item, prepared)
            raise
        await asyncio.to_thread(self._record, item, prepared)
        return note


def handler(container: Container) -> Delivering:  # the Slack channel's chat stage
    return Delivering(container)


def item(container: Container, request_id: str, kind: str) -> OutboxItem:
    """The request's Slack row of ``kind`` as the outbox hands it out the first time
    (claiming counts the attempt)."""
    with container.services.uow() as uow:
        row = next(
            i
            for i in uow.outbox.for_requests([request_id])
            if i.kind == kind and i.payload.get("channel") == "slack"
        )
    return dataclasses.replace(row, attempts=row.attempts + 1)


def redelivered(i: OutboxItem) -> OutboxItem:
    """The same row as the outbox hands it out again (it counts attempts when it claims)."""
    return dataclasses.replace(i, attempts=i.attempts + 1)


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {DEADLINE:.0f}s")
        await asyncio.sleep(0.01)


@pytest.mark.postgres
def test_two_replicas_delivering_the_same_post_make_one_message(two_replicas, slack):
    a, b, _clock = two_replicas
    rid = a.services.commands.submit(submission()).request.id
    post = item(a, rid, CHAT_POST)
    request = a.services.queries.get(rid)
    slack.hold("chat.postMessage")

    async def both() -> None:
        first = asyncio.create_task(handler(a).deliver(post, request))
        await until(lambda: slack.held("chat.postMessage") == 1, "replica a's post to reach Slack")
        with pytest.raises(Exception, match="being posted"):  # retried later by the outbox
            await handler(b).deliver(post, request)
        slack.release("chat.postMessage")
        await first
        # b's retry finds the message, showing what b would show: no chat.update
        await handler(b).deliver(redelivered(post), request)

    asyncio.run(both())
    [message] = slack.posts(CHANNEL)
    assert a.services.chat.ref(rid, "slack") == {"channel": CHANNEL, "ts": message["ts"]}
    assert slack.calls("chat.update") == []


@pytest.mark.postgres
def test_a_post_whose_answer_was_lost_is_found_again_not_posted_twice(two_replicas, slack):
    a, b, _clock = two_replicas
    rid = a.services.commands.submit(submission()).request.id
    post, request = item(a, rid, CHAT_POST), a.services.queries.get(rid)
    slack.lose_response("chat.postMessage")

    async def deliveries() -> None:
        with pytest.raises(Exception):  # noqa: B017 (whatever the client raises: retried)
            await handler(a).deliver(post, request)
        await handler(b).deliver(redelivered(post), request)

    asyncio.run(deliveries())
    [message] = slack.posts(CHANNEL)
    assert a.services.chat.ref(rid, "slack") == {"channel": CHANNEL, "ts": message["ts"]}
    assert slack.attempts("chat.postMessage") == 1
    assert slack.calls("conversations.history"), "the retry looked for the earlier post"


@pytest.mark.postgres
def test_a_deliverer_that_dies_while_posting_leaves_one_message(two_replicas, slack):
    a, b, clock = two_replicas
    rid = a.services.commands.submit(submission()).request.id
    post, request = item(a, rid, CHAT_POST), a.services.queries.get(rid)
    slack.hold("chat.postMessage")

    async def crash_then_retry() -> None:
        dying = asyncio.create_task(handler(a).deliver(post, request))
        await until(lambda: slack.held("chat.postMessage") == 1, "replica a's post to reach Slack")
        dying.cancel()  # the process is gone; Slack still does what it was asked
        with pytest.raises(asyncio.CancelledError):
            await dying
        slack.release("chat.postMessage")
        await until(lambda: len(slack.posts(CHANNEL)) == 1, "Slack to post the message")
        with pytest.raises(Exception, match="being posted"):  # a's claim still holds
            await handler(b).deliver(redelivered(post), request)
        clock.advance(seconds=a.settings.outbox_lease_seconds + 1)  # ...until it runs out
        await handler(b).deliver(redelivered(redelivered(post)), request)

    asyncio.run(crash_then_retry())
    [message] = slack.posts(CHANNEL)
    assert b.services.chat.ref(rid, "slack") == {"channel": CHANNEL, "ts": message["ts"]}


@pytest.mark.postgres
def test_a_redelivered_reminder_replies_once(two_replicas, slack):
    a, b, clock = two_replicas
    rid = a.services.commands.submit(submission()).request.id
    request = a.services.queries.get(rid)
    asyncio.run(handler(a).deliver(item(a, rid, CHAT_POST), request))
    clock.advance(hours=12, seconds=1)
    assert a.services.commands.scan_due().reminded == [rid]
    remind = item(a, rid, CHAT_REMIND)
    slack.lose_response("chat.postMessage")  # replied, but the answer never came back

    async def deliveries() -> None:
        with pytest.raises(Exception):  # noqa: B017
            await handler(a).deliver(remind, request)
        await handler(b).deliver(redelivered(remind), request)
        await handler(b).deliver(redelivered(redelivered(remind)), request)

    asyncio.run(deliveries())
    [message] = slack.posts(CHANNEL)
    replies = slack.posts(CHANNEL, thread_ts=message["ts"])
    assert len(replies) == 1 and "Reminder" in replies[0]["text"]
    assert slack.calls("conversations.replies"), "the redelivery looked in the thread"
