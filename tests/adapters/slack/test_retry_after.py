"""Slack's 429s: a short ``Retry-After`` is waited out by the client, a longer one goes back
to the outbox (``RetryLater``), which schedules the next attempt after it instead of holding
a delivery while it waits."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.adapters.slack.channel import OUTBOX_WAIT_SECONDS, make_client
from bot.adapters.slack.ids import Action
from bot.adapters.slack.markup import SlackMessage
from bot.adapters.slack.transport import SlackTransport
from bot.domain.outbox import OutboxItem
from bot.ports.chat import ChatRefused
from bot.ports.effects import RetryLater
from tests.adapters.slack.conftest import (
    BOB,
    CHANNEL,
    eventually,
    running_bot,
    slack_settings,
)
from tests.adapters.slack.fake_slack import FakeSlack, rate_limited
from tests.fakes import FakeClock


def test_a_long_retry_after_goes_back_to_the_outbox(sqlite_url: str, slack: FakeSlack) -> None:
    """A 429 asking to wait 30 s held the delivery for 30 s and more (the client slept it out,
    three times); now the outbox gets it back at once (``RetryLater``) and schedules the next
    attempt after the wait, without counting the attempt as a failure."""
    clock = FakeClock(datetime.now(UTC))
    with running_bot(sqlite_url, slack, clock=clock) as bot:
        rid = bot.submit(requested_by="dave")
        ref = bot.message(rid)
        slack.fail("chat.update", rate_limited(retry_after=30))
        started = time.monotonic()
        bot.click(Action.APPROVE, rid, BOB)
        outbox = bot.container.services.queries.outbox_items
        eventually(lambda: _waiting(outbox()), "the update to wait for Slack's Retry-After")
        [row] = _waiting(outbox())
        assert row.attempts == 0  # not a failure
        assert row.next_attempt_at is not None
        assert row.next_attempt_at >= clock.now() + timedelta(seconds=29)
        assert time.monotonic() - started < 10  # no delivery held for the wait
        clock.advance(seconds=31)
        bot.container.kick()
        bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "the update after the 429")
        assert slack.attempts("chat.update") == 2


def _waiting(items: list[OutboxItem]) -> list[OutboxItem]:
    return [i for i in items if i.state.value == "pending" and "ratelimited" in str(i.last_error)]


def test_the_transport_says_how_long_slack_asks_to_wait(slack: FakeSlack) -> None:
    settings = slack_settings("sqlite://", slack).slack

    async def update() -> BaseException:
        client = make_client(settings, wait_at_most=OUTBOX_WAIT_SECONDS)
        transport = SlackTransport(client, client, channel_id=CHANNEL)
        slack.fail("chat.update", rate_limited(retry_after=45))
        try:
            await transport.update({"channel": CHANNEL, "ts": "1.0"}, SlackMessage("x"))
        except BaseException as exc:
            return exc
        raise AssertionError("no error")

    error = asyncio.run(update())
    assert isinstance(error, RetryLater) and isinstance(error, ChatRefused)
    assert error.seconds == 45 and not error.permanent
    assert "ratelimited" in str(error)
