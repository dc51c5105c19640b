"""Messages and taps no person can be named for: an anonymous admin (GroupAnonymousBot,
1087968824, with ``sender_chat``), someone writing as a channel (136817688) and channel
posts (777000) are refused with a short answer, never told to enrol the id they carry."""

from __future__ import annotations

from bot.adapters.telegram.ids import Button, callback_data
from bot.adapters.telegram.markup import NOT_A_PERSON
from tests.adapters.telegram.conftest import BOB, TelegramBot
from tests.adapters.telegram.fake_telegram import ANONYMOUS_ADMIN, FAKE_CHANNEL


def _answer_to(bot: TelegramBot, update: dict[str, object]) -> str:
    bot.deliver(update)
    return bot.answer_to(int(update["message"]["message_id"])).text  # type: ignore[index]


def test_an_anonymous_admins_commands_are_refused(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    whoami = _answer_to(bot, bot.telegram.anonymous("/whoami"))
    assert whoami == NOT_A_PERSON
    assert "1087968824" not in whoami
    assert _answer_to(bot, bot.telegram.anonymous(f"/approve {rid}")) == NOT_A_PERSON
    assert _answer_to(bot, bot.telegram.on_behalf_of_channel(f"/approve {rid}")) == NOT_A_PERSON
    assert bot.container.services.queries.get(rid).votes == []


def test_a_channel_post_forwarded_to_the_group_is_not_answered(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    update = bot.telegram.automatic_forward("/pending")
    bot.deliver(update)
    assert bot.replies(int(update["message"]["message_id"])) == []


def test_a_tap_from_a_stand_in_is_refused(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    for sender in (ANONYMOUS_ADMIN, FAKE_CHANNEL):
        update = bot.telegram.tap_as(sender, callback_data(Button.APPROVE, rid), message)
        bot.deliver(update)
        answer = bot.answer(str(update["callback_query"]["id"]))
        assert answer["show_alert"] is True
        assert answer["text"] == NOT_A_PERSON
    assert bot.container.services.queries.get(rid).votes == []


def test_an_anonymous_reply_to_a_prompt_is_not_a_reason(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    request_message = bot.message(rid)
    bot.answer(bot.tap(BOB, Button.REJECT, rid, first_name="Bob"))
    prompt = bot.answer_to(request_message.message_id)
    assert _answer_to(bot, bot.telegram.anonymous("not me", reply_to=prompt)) == NOT_A_PERSON
    assert bot.state(rid) == "pending"
