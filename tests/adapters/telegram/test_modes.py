"""Webhook mode registers itself with Telegram; polling mode keeps its offset in the database,
so a restart neither loses nor repeats an update."""

from __future__ import annotations

import asyncio

from bot.adapters.db.migrate import upgrade
from bot.adapters.telegram.ids import OFFSET_KEY
from bot.domain.model import VoteKind
from bot.service.identity import Identity
from tests.adapters.telegram.conftest import (
    BOB,
    CAROL,
    SECRET,
    eventually,
    running_bot,
    telegram_settings,
)
from tests.adapters.telegram.fake_telegram import FakeTelegram
from tests.builders import directory, submission


def test_webhook_is_set_at_start_when_the_public_url_is(
    sqlite_url: str, telegram: FakeTelegram
) -> None:
    with running_bot(sqlite_url, telegram, public_url="https://approvals.example.com/"):
        eventually(lambda: telegram.calls("setWebhook"), "setWebhook")
        [call] = telegram.calls("setWebhook")
        assert call["url"] == "https://approvals.example.com/telegram/webhook"
        assert call["secret_token"] == SECRET
        assert call["allowed_updates"] == ["message", "callback_query"]


def test_no_webhook_is_set_without_an_https_public_url(
    sqlite_url: str, telegram: FakeTelegram
) -> None:
    with running_bot(sqlite_url, telegram) as bot:  # APPROVAL_BOT_PUBLIC_URL not set
        bot.say(BOB, "/whoami")  # the channel is up and answering
    with running_bot(sqlite_url, telegram, public_url="http://127.0.0.1:8080") as bot:
        bot.say(BOB, "/whoami")
    assert telegram.attempts("setWebhook") == 0


def test_polling_deletes_a_webhook_then_polls(sqlite_url: str, telegram: FakeTelegram) -> None:
    telegram.webhook = {"url": "https://old.example.com/telegram/webhook"}
    with running_bot(sqlite_url, telegram, mode="polling") as bot:
        asked = bot.say(BOB, "/whoami")
        assert "You are bob" in bot.answer_to(asked).text
    assert telegram.webhook is None
    assert telegram.attempts("deleteWebhook") == 1


def test_a_restart_neither_loses_nor_repeats_an_update(
    sqlite_url: str, telegram: FakeTelegram
) -> None:
    with running_bot(sqlite_url, telegram, mode="polling") as bot:
        first = telegram.text(BOB, "/whoami")
        bot.deliver(first)
        assert "You are bob" in bot.answer_to(first["message"]["message_id"]).text
        stored = bot.container.services.chat.state("telegram").get(OFFSET_KEY)
    assert stored == first["update_id"] + 1
    polls_before = len(telegram.log("getUpdates"))

    # While the bot is down, Telegram keeps what arrives.
    second = telegram.push(telegram.text(CAROL, "/whoami"))
    with running_bot(sqlite_url, telegram, mode="polling") as bot:
        eventually(lambda: bot.replies(second["message"]["message_id"]), "the queued update")
        assert "You are carol" in bot.replies(second["message"]["message_id"])[0].text
        first_poll = telegram.log("getUpdates")[polls_before]
        assert first_poll.args["offset"] == stored  # it asked where it had stopped
        eventually(
            lambda: bot.container.services.chat.state("telegram").get(OFFSET_KEY)
            == second["update_id"] + 1,
            "the offset to move past the queued update",
        )
    assert len(bot.replies(first["message"]["message_id"])) == 1  # not processed twice
    assert len(bot.replies(second["message"]["message_id"])) == 1


def test_outbox_deliver_posts_without_a_server(sqlite_url: str, telegram: FakeTelegram) -> None:
    """``approval-bot outbox deliver``: the client starts on the command's own loop (and on
    a later one), with no channel start."""
    upgrade(sqlite_url)
    container = telegram_settings(sqlite_url, telegram).build()
    try:
        services = container.services
        services.admin.apply(directory())
        first = services.commands.submit(submission()).request.id
        report = asyncio.run(container.dispatcher.deliver_due())
        assert len(report.delivered) == 1  # the Telegram post
        assert services.chat.ref(first, "telegram") is not None
        services.commands.vote(first, Identity("cli", "bob"), VoteKind.APPROVE)
        asyncio.run(container.dispatcher.deliver_due())  # a new loop: a new client
    finally:
        container.close()
    [edit] = telegram.calls("editMessageText")
    assert "ml-leads 1/1 (bob)" in edit["text"]
