"""Taps on the request message, through the real app, delivered as webhook POSTs and
through getUpdates: who may vote, what the answer says, how the message changes."""

from __future__ import annotations

import json
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.adapters.telegram.ids import Button, callback_data
from bot.domain.names import EventKind
from tests.adapters.telegram.conftest import (
    ALICE,
    BOB,
    CAROL,
    STRANGER,
    TelegramBot,
)
from tests.adapters.telegram.fake_telegram import GROUP


def _audit(bot: TelegramBot, rid: str) -> list[tuple[str, str]]:
    records = bot.container.services.queries.history([bot.container.services.queries.get(rid)])
    return [(r.kind, r.actor) for r in records[rid]]


def test_the_request_message_shows_the_evidence_and_two_buttons(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    assert message.chat_id == GROUP
    assert "Approval needed: iris-classifier v3" in message.text
    assert "✅ latency_p99_ms = 2.34 (threshold ≤ 100)" in message.text
    assert "challenger_accuracy = 0.9667 (no champion yet)" in message.text
    assert "⏳ ml-leads 0/1 · ⏳ sre 0/1" in message.text
    [[approve, reject]] = message.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert approve["callback_data"] == f"v1:a:{rid}"
    assert reject["callback_data"] == f"v1:r:{rid}"


def test_not_enrolled_gets_an_alert_and_no_vote(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    answer = bot.answer(bot.tap(STRANGER, Button.APPROVE, rid))
    assert answer["show_alert"] is True
    assert f"({STRANGER}) is not enrolled" in answer["text"]
    assert bot.container.services.queries.get(rid).votes == []
    assert (EventKind.DENIED, f"telegram user {STRANGER}") in _audit(bot, rid)


def test_full_flow_to_approved_edits_the_message(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)

    first = bot.answer(bot.tap(BOB, Button.APPROVE, rid))
    assert first.get("show_alert") in (None, False)
    assert "was counted" in first["text"]
    bot.wait_message(rid, lambda m: "ml-leads 1/1 (bob)" in m.text, "bob's vote on the message")

    again = bot.answer(bot.tap(BOB, Button.APPROVE, rid))  # a double tap is one vote
    assert again["show_alert"] is True
    assert "already voted" in again["text"]

    last = bot.answer(bot.tap(CAROL, Button.APPROVE, rid))
    assert "It is now approved" in last["text"]
    final = bot.wait_message(rid, lambda m: "Approved by" in m.text, "the decision")
    assert "Approved by bob, carol" in final.text
    assert final.reply_markup is None  # the keyboard is replaced by who decided
    assert bot.state(rid) == "approved"
    votes = bot.container.services.queries.get(rid).votes
    assert [(v.person, v.channel) for v in votes] == [("bob", "telegram"), ("carol", "telegram")]

    late = bot.answer(bot.tap(ALICE, Button.APPROVE, rid))
    assert late["show_alert"] is True
    assert "already approved" in late["text"]


def test_self_approval_is_refused_with_an_alert_and_a_denied_event(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="alice")
    bot.message(rid)
    answer = bot.answer(bot.tap(ALICE, Button.APPROVE, rid))
    assert answer["show_alert"] is True
    assert "self-approval" in answer["text"]
    assert len(answer["text"]) <= 200
    assert (EventKind.DENIED, f"telegram user {ALICE}") in _audit(bot, rid)


def test_unknown_button_data_is_answered(webhook_bot: TelegramBot) -> None:
    update = webhook_bot.telegram.tap(BOB, "v0:approve:old")
    assert webhook_bot.post(update).status_code == 200
    answer = webhook_bot.answer(str(update["callback_query"]["id"]))
    assert answer["show_alert"] is True


def test_missing_or_wrong_secret_is_403_and_nothing_is_processed(
    webhook_bot: TelegramBot,
) -> None:
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    for secret in (None, "wrong-secret", ""):
        update = bot.telegram.tap(BOB, callback_data(Button.APPROVE, rid))
        response = bot.post(update, secret=secret)
        assert response.status_code == 403
        assert "X-Telegram-Bot-Api-Secret-Token" in response.json()["message"]
    assert bot.telegram.attempts("answerCallbackQuery") == 0
    assert bot.container.services.queries.get(rid).votes == []


def test_a_malformed_body_with_the_secret_is_a_200_and_one_warning(
    webhook_bot: TelegramBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Malformed updates carrying the valid secret logged tracebacks (a callback query
    without ``from``), and deeply nested JSON was answered 500 text/plain. Each is now a
    200 (Telegram would only send it again) and one warning line."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": "tg-webhook-secret_0123456789"}
    url = f"{webhook_bot.url}/telegram/webhook"
    no_from = webhook_bot.telegram.tap(BOB, "v1:a:x")
    del no_from["callback_query"]["from"]
    bodies = [
        b"{nope",
        json.dumps({"hello": 1}).encode(),
        b"[" * 30000 + b"]" * 30000,
        b'{"update_id": 1, "x": ' + b"[" * 30000 + b"]" * 30000 + b"}",
        json.dumps(no_from).encode(),
        json.dumps({"update_id": 7, "callback_query": "not an object"}).encode(),
    ]
    with caplog.at_level(logging.INFO):
        for body in bodies:
            caplog.clear()
            response = webhook_bot.http.post(url, content=body, headers=headers)
            assert response.status_code == 200, (body[:40], response.text)
            mine = [r for r in caplog.records if r.name.startswith("bot")]
            assert [r.levelname for r in mine] == ["WARNING"], [r.getMessage() for r in mine]
            assert mine[0].exc_info is None and "\n" not in mine[0].getMessage()
    assert webhook_bot.telegram.attempts("answerCallbackQuery") == 0


def test_an_update_sent_twice_is_processed_once(webhook_bot: TelegramBot) -> None:
    """Telegram sends an update again when our answer is slow: the same Reject tap twice
    gave two prompts and a second ``denied`` event."""
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    update = bot.telegram.tap(BOB, callback_data(Button.REJECT, rid), message=message)
    assert bot.post(update).status_code == 200
    assert bot.post(update).status_code == 200
    [prompt] = bot.replies(message.message_id)
    assert "why reject" in prompt.text
    assert bot.telegram.attempts("answerCallbackQuery") == 1
    stranger = bot.telegram.tap(STRANGER, callback_data(Button.APPROVE, rid), message=message)
    assert bot.post(stranger).status_code == 200
    assert bot.post(stranger).status_code == 200
    assert [kind for kind, _ in _audit(bot, rid)].count(EventKind.DENIED) == 1


def test_a_slow_vote_still_answers_the_tap_in_time(
    webhook_bot: TelegramBot, sqlite_url: str
) -> None:
    """The database is held by another writer: the tap is answered within the budget, and
    the refusal, once the vote is decided, comes as a message mentioning the person."""
    bot = webhook_bot
    rid = bot.submit(requested_by="dave")
    message = bot.message(rid)
    update = bot.telegram.tap(STRANGER, callback_data(Button.APPROVE, rid), message=message)
    query_id = str(update["callback_query"]["id"])
    blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=30)
    blocker.isolation_level = None
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: the vote waits for it
    try:
        with ThreadPoolExecutor(1) as pool:
            posted = pool.submit(bot.post, update)
            answer = bot.answer(query_id)
            assert answer["text"] == "⏳ Counting your vote…"
            assert bot.replies(message.message_id) == []
            blocker.execute("ROLLBACK")
            assert posted.result(timeout=10).status_code == 200
    finally:
        blocker.close()
    [note] = bot.replies(message.message_id)
    assert f"({STRANGER}) is not enrolled" in note.text
    sent = bot.telegram.calls("sendMessage")[-1]["text"]
    assert f'<a href="tg://user?id={STRANGER}">' in sent
