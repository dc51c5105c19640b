"""A group upgraded to a supergroup gets a new id: Telegram answers writes to the old one
with ChatMigrated and sends the ``migrate_to_chat_id`` service message. The stored
messages move to the new id, the delivery is made again there, and the configured id is
reported as stale (log and ``/readyz``)."""

from __future__ import annotations

import logging

import pytest

from bot.adapters.telegram.ids import Button, callback_data
from bot.service.identity import Identity
from tests import builders
from tests.adapters.slack.conftest import eventually
from tests.adapters.telegram.conftest import BOB, TelegramBot
from tests.adapters.telegram.fake_telegram import GROUP

SUPERGROUP = -1009999000111


def test_a_write_refused_as_migrated_goes_to_the_new_id(
    bot: TelegramBot, caplog: pytest.LogCaptureFixture
) -> None:
    rid = bot.submit(requested_by="dave")
    before = bot.message(rid)
    bot.telegram.migrate(GROUP, SUPERGROUP)  # the service messages are not delivered
    with caplog.at_level(logging.ERROR, logger="bot.telegram"):
        tap = bot.telegram.tap(BOB, callback_data(Button.APPROVE, rid), message=before)
        bot.deliver(tap)
        eventually(
            lambda: bot.container.services.chat.ref(rid, "telegram")
            == {"chat_id": SUPERGROUP, "message_id": before.message_id},
            "the stored message to move to the supergroup",
        )
        moved = bot.wait_message(rid, lambda m: "ml-leads 1/1 (bob)" in m.text, "bob's vote")
    assert moved.chat_id == SUPERGROUP
    stale = f"APPROVAL_BOT_TELEGRAM_CHAT_ID={GROUP} is stale"
    assert any(stale in r.getMessage() for r in caplog.records)
    ready = bot.http.get(f"{bot.url}/readyz").json()
    assert ready["status"] == "ready"
    assert any(f"set APPROVAL_BOT_TELEGRAM_CHAT_ID={SUPERGROUP}" in w for w in ready["warnings"])

    # New requests go to the supergroup, without being refused first.
    refused = len([c for c in bot.telegram.log("sendMessage") if c.status == 400])
    second = bot.submit(requested_by="dave", model_version="4")
    assert bot.message(second).chat_id == SUPERGROUP
    assert len([c for c in bot.telegram.log("sendMessage") if c.status == 400]) == refused
    rows = bot.container.services.queries.outbox_items()
    assert [r for r in rows if r.state.value == "dead"] == []


def test_the_service_message_moves_the_stored_messages(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    before = bot.message(rid)
    for update in bot.telegram.migrate(GROUP, SUPERGROUP):
        bot.deliver(update)
    assert bot.container.services.chat.ref(rid, "telegram") == {
        "chat_id": SUPERGROUP,
        "message_id": before.message_id,
    }
    bot.answer(bot.tap(BOB, Button.APPROVE, rid))
    bot.wait_message(rid, lambda m: "ml-leads 1/1 (bob)" in m.text, "bob's vote")
    assert [c for c in bot.telegram.log("editMessageText") if c.status != 200] == []


def test_an_open_divergences_alert_moves_with_the_group(webhook_bot: TelegramBot) -> None:
    """docs/watch.md: the alert is updated in place when someone acts or it is resolved."""
    bot = webhook_bot
    services = bot.container.services
    did = builders.diverge(services)
    bot.container.kick()
    eventually(lambda: services.watch.view(did).refs.get("telegram"), "the alert posted")
    posted = services.watch.view(did).refs["telegram"]
    for update in bot.telegram.migrate(GROUP, SUPERGROUP):
        bot.deliver(update)
    assert services.watch.view(did).refs["telegram"] == {**posted, "chat_id": SUPERGROUP}
    services.watch.move_alias_back(did, Identity("cli", "carol"))
    bot.container.kick()
    edited = bot.telegram.message(SUPERGROUP, posted["message_id"])
    eventually(
        lambda: "carol" in bot.telegram.message(SUPERGROUP, posted["message_id"]).text,
        "the alert edited in the supergroup",
    )
    assert edited.chat_id == SUPERGROUP
    assert [c for c in bot.telegram.log("editMessageText") if c.status != 200] == []
