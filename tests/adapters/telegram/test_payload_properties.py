"""Property: whatever a request holds within the API's documented input limits (README.md,
"HTTP API": names up to 200 characters, 50 gates, 20 links of 2,000 characters, reasons of
2,000; any Unicode but control characters; ``<``, ``&``, ``@channel``-like text, emoji
that count twice in UTF-16), every payload the bot sends Telegram is one Telegram takes.

Two levels, as for Slack (``tests/adapters/slack/test_payload_properties.py``, whose
strategies these are): the Telegram markup over many generated messages (no I/O, every
state a request can be in), and the running bot against the strict fake Telegram (a post,
an approval over failed gates, a reject through the prompt, ``/show``)."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings

from bot.adapters.telegram.ids import Button
from bot.adapters.telegram.markup import TelegramMarkup, TelegramMessage, alert
from bot.adapters.telegram.pacing import Limits, Rate
from bot.domain import errors
from bot.domain.model import ApprovalRequest, Person, Policy
from bot.service.chat import texts
from bot.service.chat.message import compose
from bot.service.chat.rich import Reply
from bot.service.identity import IdentityKind
from tests.adapters.slack.test_payload_properties import gates, links, requests, within
from tests.adapters.telegram import bot_api
from tests.adapters.telegram.conftest import BOB, CAROL, running_bot
from tests.adapters.telegram.fake_telegram import FakeTelegram
from tests.builders import directory, policy_patch

MARKUP = TelegramMarkup()


def accepted(message: TelegramMessage) -> None:
    """What the strict fake would answer: Telegram's HTML, at most 4096 UTF-16 code units
    once parsed, buttons' data within 1–64 bytes, an alert within 200."""
    text = bot_api.parse_html(message.html)
    assert text.strip()
    assert bot_api.utf16_length(text) <= bot_api.MAX_TEXT, bot_api.utf16_length(text)
    for row in message.keyboard.inline_keyboard if message.keyboard else ():
        for button in row:
            data = str(button.callback_data)
            assert bot_api.MIN_DATA <= len(data.encode()) <= bot_api.MAX_DATA
    assert bot_api.utf16_length(alert(message.plain or text)) <= bot_api.MAX_ANSWER


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_request_message_is_one_telegram_takes(
    drawn: tuple[ApprovalRequest, Policy, str | None],
) -> None:
    request, policy, problem = drawn
    for buttons in (True, False):  # the posted message, and `show`
        accepted(MARKUP.message(compose(request, policy, problem=problem, buttons=buttons)))
    people = [Person.of(f"p{n}", telegram=str(1000 + n)) for n in range(30)]
    for escalated in (None, request.model_name):
        line = texts.reminder(request, escalated_to=escalated, people=people)
        accepted(MARKUP.reply(Reply((line,))))


@given(within(2000, multiline=True), within(200))
@settings(max_examples=50, deadline=None)
def test_every_answer_is_one_telegram_takes(quote: str, name: str) -> None:
    """A reply with a quoted reason, a refusal naming an id, a notice of any length, and
    each as an alert (a tap's answer)."""
    kind = IdentityKind("telegram", "Telegram user id", "Telegram account", r"\d+", "1")
    for reply in (
        Reply((texts.notice(quote * 3),)),
        Reply((("ℹ️ ", name),), quote=quote),
        Reply((texts.explain(errors.Refused(name), kind, name),)),
    ):
        accepted(MARKUP.reply(reply))


def test_the_running_bot_sends_only_what_telegram_takes(sqlite_url: str) -> None:
    """Through the real app: each generated request is posted, approved over its failed
    gates, rejected with a generated reason through the prompt, and shown with ``/show``;
    the strict fake Telegram takes every call."""
    # Telegram would pace 30 posts into one group; pacing is not what this test is about
    # (on either side).
    unpaced = Limits(bot=Rate(10_000, 1.0, burst=100), group=Rate(10_000, 1.0, burst=100))
    with (
        FakeTelegram(group_limit=(10_000, 1.0), bot_limit=(10_000, 1.0)) as telegram,
        running_bot(sqlite_url, telegram, limits=unpaced) as bot,
    ):
        bot.container.services.admin.apply(
            directory(policies=policy_patch(allow_override_failed_gates=True))
        )
        runs = itertools.count()

        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,  # the same requests every run (a failure here is replayable)
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(
            model=within(200),
            version=within(64),
            by=within(200),
            failed=gates(12),
            urls=links(),
            reason=within(2000, multiline=True),
        )
        def one(model, version, by, failed, urls, reason) -> None:  # type: ignore[no-untyped-def]
            gate_in = [
                {"name": g.name, "value": g.value, "threshold": g.threshold, "op": g.op}
                for g in failed
            ]
            rid = bot.submit(
                model_name=model,
                model_version=version,
                requested_by=by,
                gates=gate_in,
                links=urls,
                staging_run_id=f"staging-{next(runs)}",
            )
            bot.message(rid)
            bot.answer(bot.tap(BOB, Button.APPROVE, rid))
            request_message = bot.message(rid)
            bot.answer(bot.tap(CAROL, Button.REJECT, rid, first_name=by[:64]))
            prompt = [m for m in bot.replies(request_message.message_id) if "why reject" in m.text]
            bot.say(CAROL, reason, reply_to=prompt[-1])
            bot.wait_message(rid, lambda m: "Rejected" in m.text, "the rejected message")
            bot.answer_to(bot.say(BOB, f"/show {rid}"))
            refused = [c for c in telegram.log() if c.status != 200 and not _harmless(c)]
            assert refused == [], _described(refused)

        one()
        assert len(telegram.calls("sendMessage")) >= 1


def _harmless(call: Any) -> bool:
    """An edit to what the message shows already (the transport takes it as done), and the
    long poll's 409 when a test's poller stops."""
    return call.status == 409 or "message is not modified" in call.description


def _described(calls: list[Any]) -> list[str]:
    return [f"{c.method}: {c.description}" for c in calls]
