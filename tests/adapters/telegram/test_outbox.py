"""The outbox's Telegram side through the real app: one vote in every channel, flood
control, reminders, and Telegram's answers that are harmless or final."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.adapters.slack.ids import Action
from bot.adapters.telegram.ids import Button
from bot.domain.effects import CHAT_UPDATE, Effect
from bot.domain.model import VoteKind
from bot.domain.names import OutboxState
from bot.domain.outbox import OutboxItem
from bot.service.identity import Identity
from tests.adapters.slack import conftest as slack_side
from tests.adapters.slack.fake_slack import FakeSlack
from tests.adapters.telegram.conftest import BOB, CAROL, TelegramBot, eventually, running_bot
from tests.adapters.telegram.fake_telegram import (
    GROUP,
    FakeTelegram,
    bad_request,
    flood,
)
from tests.builders import directory, policy_patch
from tests.fakes import FakeClock
from tests.support.processes import wait_for


def _outbox(bot: TelegramBot, rid: str) -> list[OutboxItem]:
    items = bot.container.services.queries.outbox_items(limit=1000)
    return [i for i in items if i.request_id == rid and i.payload.get("channel") == "telegram"]


# -- one vote, every channel ------------------------------------------------------------


@pytest.fixture
def both(
    sqlite_url: str, telegram: FakeTelegram
) -> Iterator[tuple[TelegramBot, slack_side.SlackBot]]:
    """Slack and Telegram configured together, each against its fake."""
    with (
        FakeSlack() as slack,
        running_bot(
            sqlite_url,
            telegram,
            slack_bot_token="xoxb-test-token",
            slack_signing_secret=slack_side.SECRET,
            slack_channel=slack_side.CHANNEL,
            slack_api_url=slack.api_url,
        ) as bot,
    ):
        yield bot, slack_side.SlackBot(bot.container, bot.url, slack, bot.http)


def test_a_slack_vote_edits_the_telegram_message_and_back(
    both: tuple[TelegramBot, slack_side.SlackBot],
) -> None:
    bot, slack = both
    rid = bot.submit(requested_by="dave")
    slack_ref = slack.message(rid)
    bot.message(rid)

    assert slack.click(Action.APPROVE, rid, slack_side.BOB).status_code == 200
    bot.wait_message(rid, lambda m: "ml-leads 1/1 (bob)" in m.text, "Slack's vote in Telegram")
    assert "bob approved via slack" in bot.message(rid).text

    bot.answer(bot.tap(CAROL, Button.APPROVE, rid))
    edited = slack.wait_update(slack_ref, lambda b: "Approved" in b, "Telegram's vote in Slack")
    assert "carol* approved via telegram" in edited
    final = bot.wait_message(rid, lambda m: "Approved by bob, carol" in m.text, "the decision")
    assert final.reply_markup is None


def test_a_cli_vote_edits_the_telegram_message(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    bot.container.services.commands.vote(
        rid, Identity("cli", "carol"), VoteKind.APPROVE, comment="from the terminal"
    )  # another process: the server's sweep delivers it
    bot.wait_message(rid, lambda m: "carol approved via cli" in m.text, "the CLI vote")


# -- flood control ----------------------------------------------------------------------


def test_a_burst_of_50_requests_into_one_group(webhook_bot: TelegramBot) -> None:
    """All delivered, each once, paced under the fake's 20 per 2 s: no retry_after broken."""
    bot = webhook_bot
    ids = [
        bot.submit(model_name=f"burst-{n}", staging_run_id=f"kfp-{n}", requested_by="dave")
        for n in range(50)
    ]
    eventually(
        lambda: all(bot.container.services.chat.ref(rid, "telegram") for rid in ids),
        "50 request messages to be posted",
    )
    posts = [c for c in bot.telegram.calls("sendMessage") if c["chat_id"] == GROUP]
    assert len(posts) == 50
    assert sorted(re.search(r"burst-\d+", c["text"]).group(0) for c in posts) == sorted(  # type: ignore[union-attr]
        f"burst-{n}" for n in range(50)
    )
    assert bot.telegram.violations == []
    # Pacing keeps under the limit; a 429 can only come from timing noise, and is waited out.
    assert len(bot.telegram.flood_errors()) <= 2
    eventually(
        lambda: all(i.state is OutboxState.DELIVERED for rid in ids for i in _outbox(bot, rid)),
        "every post to be marked delivered",
    )


def test_a_burst_on_two_replicas_is_posted_once_each_within_the_groups_rate(
    sqlite_url: str, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """Two replicas on one database, 60 submissions at once, half on each: every request
    is posted once, the fake Telegram (20 writes per group per window, as Telegram's 20 a
    minute) never answers 429 since both pace against one schedule, and no delivery takes
    over a claim "that may have been sent" (241 such false warnings were logged for 60)."""
    caplog.set_level(logging.INFO)
    with (
        running_bot(sqlite_url, telegram) as one,
        running_bot(sqlite_url, telegram, mode="webhook") as two,
    ):
        ids = [
            (one, two)[n % 2].submit(
                model_name=f"burst-{n}", staging_run_id=f"kfp-{n}", requested_by="dave"
            )
            for n in range(60)
        ]
        wait_for(
            lambda: all(one.container.services.chat.ref(rid, "telegram") for rid in ids),
            timeout=60,
            description="60 request messages to be posted",
        )
        wait_for(
            lambda: all(i.state is OutboxState.DELIVERED for rid in ids for i in _outbox(one, rid)),
            timeout=30,
            description="every post to be marked delivered",
        )
    posts = [c for c in telegram.calls("sendMessage") if c["chat_id"] == GROUP]
    names = sorted(re.search(r"burst-\d+", c["text"]).group(0) for c in posts)  # type: ignore[union-attr]
    assert names == sorted(f"burst-{n}" for n in range(60))  # each once
    taken_over = [r.getMessage() for r in caplog.records if "taking over" in r.getMessage()]
    assert taken_over == []
    assert telegram.violations == []
    assert len(telegram.flood_errors()) <= 2  # timing noise only: the rate is shared


def test_a_burst_through_429s_takes_over_no_post(
    sqlite_url: str, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """60 submissions at once while Telegram answers 429s: a burst logged 241 warnings
    "taking over a Telegram post that may have been sent" when none had been. A post waited
    for its slot, then for each 429's retry_after, each wait within what a write may wait
    but all of them together past the delivery's timeout: the outbox cut it unrecorded, its
    claim held for the whole lease, and the next delivery took it over as if it may have
    posted. The waits together now stay within the write's budget (``Paced`` /
    ``RetryAfter`` are raised in time), so the claim is released: nothing was sent.

    The times scale with TEST_LIMITS (a write waits 1 s here, 10 s in production): the
    delivery's timeout 3 s (30 s), the claims' lease 3 s (60 s)."""
    caplog.set_level(logging.INFO)
    telegram.fail("sendMessage", *[flood(1) for _ in range(12)])
    with running_bot(sqlite_url, telegram, outbox_lease_seconds=3.0) as bot:
        dispatcher = bot.container.dispatcher
        dispatcher.retry = replace(dispatcher.retry, timeout_seconds=3.0)
        ids = [
            bot.submit(model_name=f"burst-{n}", staging_run_id=f"kfp-{n}", requested_by="dave")
            for n in range(60)
        ]
        wait_for(
            lambda: all(bot.container.services.chat.ref(rid, "telegram") for rid in ids),
            timeout=60,
            description="60 request messages to be posted",
        )
    posts = [c for c in telegram.calls("sendMessage") if c["chat_id"] == GROUP]
    names = sorted(re.search(r"burst-\d+", c["text"]).group(0) for c in posts)  # type: ignore[union-attr]
    assert names == sorted(f"burst-{n}" for n in range(60))  # each once
    taken_over = [r.getMessage() for r in caplog.records if "taking over" in r.getMessage()]
    assert taken_over == []
    timed_out = [r.getMessage() for r in caplog.records if "timed out" in r.getMessage()]
    assert timed_out == []


def test_retry_after_is_waited_out_and_nothing_is_lost(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    bot.telegram.fail("sendMessage", flood(1))
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    attempts = bot.telegram.log("sendMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # retry_after honoured
    assert bot.telegram.violations == []
    assert "Approval needed" in message.text
    eventually(
        lambda: all(i.state is OutboxState.DELIVERED for i in _outbox(bot, rid)),
        "the post to be marked delivered",
    )


def test_a_long_retry_after_goes_back_to_the_outbox(
    sqlite_url: str, telegram: FakeTelegram
) -> None:
    """Past what a delivery may wait (1 s here), the outbox retries after retry_after (no
    attempt before it calls Telegram), without counting the wait as a failed attempt."""
    with running_bot(sqlite_url, telegram, outbox_base_seconds=0.4) as bot:
        telegram.fail("sendMessage", flood(2))
        rid = bot.submit(requested_by="dave")
        message = bot.message(rid)
        log = telegram.log("sendMessage")
        assert [c.status for c in log] == [429, 200]
        assert log[1].at - log[0].at >= 2.0
        assert telegram.violations == []
        eventually(
            lambda: all(i.state is OutboxState.DELIVERED for i in _outbox(bot, rid)),
            "the post to be marked delivered",
        )
        [post] = [i for i in _outbox(bot, rid) if i.kind == "chat.post"]
        assert post.attempts == 1  # went back to the outbox, and the wait was no failure
        assert "Approval needed" in message.text


# -- reminders, escalation, expiry -------------------------------------------------------


def test_reminders_escalation_and_expiry_reply_to_the_message(
    sqlite_url: str, telegram: FakeTelegram
) -> None:
    clock = FakeClock()
    with running_bot(sqlite_url, telegram, clock=clock) as bot:
        bot.container.services.admin.apply(
            directory(
                policies=policy_patch(
                    deadline="4h", remind_every="1h", escalate_after="2h", escalate_to="sre"
                )
            )
        )
        rid = bot.submit(requested_by="dave")
        message = bot.message(rid)
        bot.answer(bot.tap(BOB, Button.APPROVE, rid))
        bot.wait_message(rid, lambda m: "ml-leads 1/1 (bob)" in m.text, "bob's vote")

        clock.advance(hours=1, minutes=1)
        eventually(lambda: bot.replies(message.message_id), "a reminder")
        [reminder] = bot.replies(message.message_id)
        sent = next(c for c in telegram.calls("sendMessage") if c["text"].startswith("⏰"))
        assert f'<a href="tg://user?id={CAROL}">carol</a>' in sent["text"]  # sre still needed
        assert f"tg://user?id={BOB}" not in sent["text"]  # bob voted, ml-leads is met
        assert "Reminder: iris-classifier v3 is waiting for your vote" in reminder.text

        clock.advance(hours=1)
        eventually(lambda: len(bot.replies(message.message_id)) >= 3, "escalation and reminder")
        texts = [m.text for m in bot.replies(message.message_id)]
        assert sum("Escalation to sre" in t for t in texts) == 1  # once each
        assert sum("Reminder" in t for t in texts) == 2

        clock.advance(hours=2)
        final = bot.wait_message(rid, lambda m: "Expired" in m.text, "the expiry")
        assert "system decision" in final.text
        assert final.reply_markup is None


# -- Telegram's answers ----------------------------------------------------------------------


def _redeliver_update(bot: TelegramBot, rid: str, key: str) -> OutboxItem:
    """Write one more chat.update row for the request and deliver it now."""
    services = bot.container.services
    with services.uow() as uow:
        uow.outbox.add(
            [Effect(CHAT_UPDATE, key, rid, {"channel": "telegram"})], services.clock.now()
        )
        uow.commit()
    asyncio.run_coroutine_threadsafe(
        bot.container.dispatcher.deliver_due(),
        bot.container.delivery.loop,  # type: ignore[arg-type]
    ).result(timeout=10)

    def finished() -> list[OutboxItem]:  # the sweep may have claimed it first: wait for it
        done = (OutboxState.PENDING, OutboxState.DELIVERING)
        return [i for i in _outbox(bot, rid) if i.key == key and i.state not in done]

    eventually(finished, f"the delivery of {key} to finish")
    [item] = finished()
    return item


def test_an_update_that_changes_nothing_is_not_sent(webhook_bot: TelegramBot) -> None:
    """An edit to what the message shows already would spend one of the group's 20 writes a
    minute for Telegram's "message is not modified": it is not sent. A real change is."""
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    for n in range(3):  # the same update again, as a redelivery or a second replica sends it
        item = _redeliver_update(bot, rid, f"{rid}:update:again-{n}:telegram")
        assert item.state is OutboxState.DELIVERED
    assert bot.telegram.log("editMessageText") == []

    bot.container.services.commands.vote(rid, Identity("cli", "carol"), VoteKind.APPROVE)
    bot.wait_message(rid, lambda m: "carol approved via cli" in m.text, "the vote")
    assert [c.status for c in bot.telegram.log("editMessageText")] == [200]
    # The edit is shown before its outcome (and what it showed) is recorded: until then
    # nobody knows what the message shows, and an update then would edit again (harmlessly).
    in_flight = (OutboxState.PENDING, OutboxState.DELIVERING)
    eventually(
        lambda: all(i.state not in in_flight for i in _outbox(bot, rid)), "the vote's outcome"
    )
    _redeliver_update(bot, rid, f"{rid}:update:after-vote:telegram")
    assert [c.status for c in bot.telegram.log("editMessageText")] == [200]


def test_message_is_not_modified_is_harmless(webhook_bot: TelegramBot) -> None:
    """When what the message shows is unknown (a delivery crashed before recording it), the
    edit is sent, and Telegram's "message is not modified" is no failure."""
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    with bot.container.services.uow() as uow:
        uow.chat.take_shown(rid, "telegram")
        uow.commit()
    item = _redeliver_update(bot, rid, f"{rid}:update:again:telegram")
    assert item.state is OutboxState.DELIVERED
    log = bot.telegram.log("editMessageText")
    assert [c.status for c in log] == [400]
    assert "message is not modified" in log[0].description
    _redeliver_update(bot, rid, f"{rid}:update:again-2:telegram")
    assert len(bot.telegram.log("editMessageText")) == 1  # known again: not sent


def test_a_deleted_message_is_left_alone(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    ref = bot.ref(rid)
    with bot.telegram._lock:
        del bot.telegram.messages[(ref["chat_id"], ref["message_id"])]
    item = _redeliver_update(bot, rid, f"{rid}:update:gone:telegram")
    assert item.state is OutboxState.DELIVERED
    assert bot.telegram.calls("sendMessage")[-1]["text"].startswith("<b>🗳️")  # no repost


def test_what_retrying_cannot_fix_is_dead_lettered_with_telegrams_words(
    webhook_bot: TelegramBot,
) -> None:
    bot = webhook_bot
    bot.telegram.fail("sendMessage", bad_request("chat not found"))
    rid = bot.submit(requested_by="dave")
    eventually(lambda: any(i.state is OutboxState.DEAD for i in _outbox(bot, rid)), "a dead letter")
    [post] = [i for i in _outbox(bot, rid) if i.kind == "chat.post"]
    assert post.last_error == "Telegram says: Chat not found"
    assert post.attempts == 1


def test_everything_user_supplied_is_escaped(webhook_bot: TelegramBot) -> None:
    """The fake parses HTML as Telegram does: a stray < or & would be refused."""
    bot = webhook_bot
    rid = bot.submit(
        model_name="<script>&iris",
        requested_by="dave <ops> & co",
        links={"mlflow": 'http://mlflow.local/?a=1&b="2"', "odd": "javascript:alert(1)"},
    )
    message = bot.message(rid)
    assert "<script>&iris" in message.text
    assert "dave <ops> & co" in message.text
    assert "odd: javascript:alert(1)" in message.text  # shown, never a link
    bot.say(BOB, f"/approve {rid} <b>bold</b> & 'quoted'")
    edited = bot.wait_message(rid, lambda m: "ml-leads 1/1" in m.text, "the vote")
    assert "<b>bold</b> & 'quoted'" in edited.text
