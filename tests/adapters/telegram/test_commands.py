"""Every command, in the group (also as ``/cmd@BotName``) and in a private chat, through the
real app; and the parser on its own."""

from __future__ import annotations

import pytest

from bot.adapters.telegram.listeners import command_of
from bot.service.chat import parse as commands
from bot.service.chat.parse import ChatCommand as Command
from tests.adapters.telegram.conftest import ALICE, BOB, CAROL, STRANGER, TelegramBot
from tests.adapters.telegram.fake_telegram import BOT_USERNAME, GROUP


def test_every_command_in_the_group(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)

    def ask(text: str, user: int = BOB) -> str:
        return bot.answer_to(bot.say(user, text)).text

    assert "1 pending request(s)" in ask("/pending")
    assert f"{rid} iris-classifier v3 by dave, 0 approval(s)" in ask(f"/pending@{BOT_USERNAME}")
    shown = ask(f"/show {rid}")
    assert "Approval needed: iris-classifier v3" in shown
    assert "no champion yet" in shown

    # A counted vote is confirmed by the message's edit alone: no group message for it.
    voted = bot.say(BOB, f"/approve@{BOT_USERNAME} {rid} canary looks fine")
    bot.wait_message(rid, lambda m: "canary looks fine" in m.text, "bob's comment on the message")
    assert "already voted" in ask(f"/approve {rid}")
    assert bot.replies(voted) == []
    decided = bot.say(CAROL, f"/approve {rid}")
    bot.wait_message(rid, lambda m: "Approved" in m.text, "the decision on the message")
    assert bot.replies(decided) == []

    history = ask("/history iris-classifier 5")
    assert "The last 1 request(s) of iris-classifier" in history
    assert f"{rid} iris-classifier v3: approved by bob,carol" in history
    trail = ask(f"/audit {rid}")
    assert f"Audit trail of {rid}" in trail
    assert "voted by bob — approve via telegram: canary looks fine" in trail
    assert "decided by bob,carol — approved: quorum met" in trail

    whoami = ask("/whoami")
    assert f"You are bob (Telegram user id {BOB}); groups: ml-leads." in whoami
    assert f"This chat's id is {GROUP}." in whoami
    assert "/reject ID reason" in ask("/help")
    unknown = ask("/frobnicate")
    assert "I don't know /frobnicate" in unknown
    assert "/pending" in unknown
    assert "unknown approval request 'nope'" in ask("/show nope")


def test_a_command_for_another_bot_is_not_answered(webhook_bot: TelegramBot) -> None:
    asked = webhook_bot.say(BOB, "/pending@SomeOtherBot")
    assert webhook_bot.replies(asked) == []


def test_read_commands_answer_enrolled_people_only(webhook_bot: TelegramBot) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    for text in ("/pending", f"/show {rid}", "/history", f"/audit {rid}"):
        answer = bot.answer_to(bot.say(STRANGER, text)).text
        assert answer.startswith("⛔ Only enrolled approvers can read requests.")
        assert f"Your Telegram user id is {STRANGER} and it is not enrolled" in answer
        assert rid not in answer
    whoami = bot.answer_to(bot.say(STRANGER, "/whoami")).text
    assert f"add telegram: {STRANGER} to a person" in whoami
    refused = bot.answer_to(bot.say(STRANGER, f"/approve {rid}")).text
    assert "not enrolled" in refused
    assert bot.state(rid) == "pending"


def test_a_private_chat_gets_help_for_anything_else(webhook_bot: TelegramBot) -> None:
    said = webhook_bot.say(ALICE, "hello?", chat_id=ALICE)
    reply = webhook_bot.answer_to(said)
    assert reply.chat_id == ALICE
    assert "/pending" in reply.text
    chatter = webhook_bot.say(ALICE, "just chatting in the group")
    assert webhook_bot.replies(chatter) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/pending", Command("pending")),
        (f"/pending@{BOT_USERNAME}", Command("pending")),
        (f"/PENDING@{BOT_USERNAME.upper()}", Command("pending")),
        ("/start", Command("help")),
        ("/show abc123", Command("show", request_id="abc123")),
        ("/approve abc123", Command("approve", request_id="abc123")),
        (
            "/approve abc123  looks  good ",
            Command("approve", request_id="abc123", text="looks  good"),
        ),
        ("/reject abc123 too\nslow", Command("reject", request_id="abc123", text="too\nslow")),
        ("/history", Command("history")),
        ("/history iris 5", Command("history", model="iris", limit=5)),
        ("/history 500", Command("history", limit=commands.HISTORY_MAX)),
        ("/history iris", Command("history", model="iris")),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    assert command_of(text, BOT_USERNAME) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("/reject abc123", "a reason is required to reject: /reject abc123 your reason"),
        ("/reject", "/reject needs a request id and a reason"),
        ("/approve", "/approve needs a request id"),
        ("/show", "/show takes one request id"),
        ("/pending now", "/pending takes no arguments"),
        ("/history a b c", "/history takes a model and a number"),
        ("/history a b", "b is not a number"),
        ("/nope", "I don't know /nope"),
    ],
)
def test_parse_problems(text: str, problem: str) -> None:
    command = command_of(text, BOT_USERNAME)
    assert command is not None
    assert command.name == "usage"
    assert (command.problem or "").startswith(problem)


def test_parse_ignores_what_is_not_for_this_bot() -> None:
    assert command_of("/pending@OtherBot", BOT_USERNAME) is None
    assert command_of("hello", BOT_USERNAME) is None
