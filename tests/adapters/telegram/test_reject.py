"""Rejecting in Telegram: the ForceReply prompt bound to the request and the person, and
``/reject ID reason``; a reason is always required."""

from __future__ import annotations

from bot.adapters.telegram.ids import Button
from tests.adapters.telegram.conftest import BOB, CAROL, STRANGER, TelegramBot
from tests.adapters.telegram.fake_telegram import GROUP, Stored


def _prompt(bot: TelegramBot, rid: str, user: int) -> Stored:
    """Tap Reject as ``user``; the prompt the bot sends in reply to the request message."""
    request_message = bot.message(rid)
    answer = bot.answer(bot.tap(user, Button.REJECT, rid, first_name="Bob"))
    assert answer.get("show_alert") in (None, False)
    assert "Reply to my message with your reason" in answer["text"]
    prompt = bot.answer_to(request_message.message_id)
    assert prompt.chat_id == GROUP
    return prompt


def test_reject_by_replying_to_the_prompt(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    prompt = _prompt(bot, rid, BOB)
    assert f"why reject iris-classifier v3 (request {rid})" in prompt.text
    [sent] = [c for c in bot.telegram.calls("sendMessage") if "why reject" in c["text"]]
    assert sent["reply_markup"]["force_reply"] is True
    assert sent["reply_markup"]["selective"] is True
    assert f'<a href="tg://user?id={BOB}">Bob</a>' in sent["text"]  # selective needs the mention

    # Someone else's reply does not count.
    carols = bot.say(CAROL, "I object too", reply_to=prompt)
    assert "does not count" in bot.answer_to(carols).text
    assert bot.state(rid) == "pending"

    bobs = bot.say(BOB, "p99 latency regressed\non the canary", reply_to=prompt)
    final = bot.wait_message(rid, lambda m: "Rejected by bob" in m.text, "the rejection")
    assert bot.replies(bobs) == []  # the edit says it: no group message for it
    assert "p99 latency regressed\non the canary" in final.text
    assert final.reply_markup is None
    request = bot.container.services.queries.get(rid)
    assert request.state.value == "rejected"
    assert request.reason == "p99 latency regressed\non the canary"
    assert [(v.person, v.vote.value, v.channel) for v in request.votes] == [
        ("bob", "reject", "telegram")
    ]

    # The prompt is used up: another reply to it is not a second vote.
    again = bot.say(BOB, "and another thing", reply_to=prompt)
    assert bot.replies(again) == []
    assert len(bot.container.services.queries.get(rid).votes) == 1


def test_a_blank_reply_is_refused_and_the_prompt_stays(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    prompt = _prompt(bot, rid, BOB)
    blank = bot.say(BOB, "   ", reply_to=prompt)
    assert "A reason is required to reject" in bot.answer_to(blank).text
    assert bot.state(rid) == "pending"
    bot.say(BOB, "too slow", reply_to=prompt)
    bot.wait_message(rid, lambda m: "Rejected by bob" in m.text, "the rejection")


def test_reject_command_needs_a_reason(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    bare = bot.say(BOB, f"/reject {rid}")
    assert f"a reason is required to reject: /reject {rid} your reason" in bot.answer_to(bare).text
    assert bot.state(rid) == "pending"

    done = bot.say(BOB, f"/reject@approval_test_bot {rid} accuracy is below the champion")
    final = bot.wait_message(rid, lambda m: "Rejected by bob" in m.text, "the rejection")
    assert bot.replies(done) == []
    assert "accuracy is below the champion" in final.text


def test_a_reject_costs_the_group_one_edit_and_no_message(webhook_bot: TelegramBot) -> None:
    """After a reject the bot sent "❌ You rejected …" to the group and only a paced slot
    later (3.5 s) edited the request message: Telegram's 20 messages a minute per group
    went on chatter first. Now the edit is the only write the vote costs."""
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    prompt = _prompt(bot, rid, BOB)
    sent = len(bot.telegram.calls("sendMessage"))
    edits = len(bot.telegram.calls("editMessageText"))
    bot.say(BOB, "too slow", reply_to=prompt)
    bot.wait_message(rid, lambda m: "Rejected by bob" in m.text, "the rejection")
    assert len(bot.telegram.calls("editMessageText")) == edits + 1
    assert len(bot.telegram.calls("sendMessage")) == sent


def test_reject_tap_by_someone_not_enrolled_gets_no_prompt(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    answer = bot.answer(bot.tap(STRANGER, Button.REJECT, rid))
    assert answer["show_alert"] is True
    assert "not enrolled" in answer["text"]
    assert bot.replies(message.message_id) == []


def test_reject_tap_on_a_decided_request_says_so(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    bot.say(BOB, f"/reject {rid} no")
    bot.wait_message(rid, lambda m: "Rejected by bob" in m.text, "the rejection")
    answer = bot.answer(bot.tap(CAROL, Button.REJECT, rid))
    assert answer["show_alert"] is True
    assert "already rejected" in answer["text"]
    assert [m for m in bot.replies(message.message_id) if "why reject" in m.text] == []


def test_reject_in_a_channel_says_how_instead_of_an_unanswerable_prompt(
    webhook_bot: TelegramBot,
) -> None:
    """Nobody can reply to a ForceReply prompt in a channel (@channelname): the Reject tap
    there sent one anyway, and the request could not be rejected."""
    bot = webhook_bot
    bot.telegram.channels.add(GROUP)
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    answer = bot.answer(bot.tap(BOB, Button.REJECT, rid))
    assert answer["show_alert"] is True
    assert f"/reject {rid} <reason>" in answer["text"]
    assert "@approval_test_bot" in answer["text"]
    assert bot.replies(message.message_id) == []
