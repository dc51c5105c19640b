"""Telegram's markup on its own: callback data stays within Telegram's 64 bytes, every
message the chat core words is HTML Telegram accepts (checked by the fake's parser) and fits
4096 characters."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.telegram import markup
from bot.adapters.telegram.ids import Button, Tap, callback_data, parse_callback
from bot.domain.model import ApprovalRequest, GateResult, Person, Policy, State, Vote, VoteKind
from bot.service.chat import texts
from bot.service.chat.message import compose
from bot.service.chat.rich import Reply
from tests.adapters.telegram.bot_api import utf16_length
from tests.adapters.telegram.fake_telegram import HtmlError, parse_html
from tests.builders import directory

MARKUP = markup.TelegramMarkup()


class render:
    TEXT_LIMIT = markup.TEXT_LIMIT
    reject_prompt = staticmethod(markup.reject_prompt)

    @staticmethod
    def message_text(r: ApprovalRequest, policy: Policy, problem: str | None = None) -> str:
        return MARKUP.message(compose(r, policy, problem=problem)).html

    @staticmethod
    def reminder_text(r: ApprovalRequest, *, event: str, people, escalate_to=None) -> str:
        to = escalate_to if event == "escalated" else None
        return MARKUP.reply(Reply((texts.reminder(r, escalated_to=to, people=people),))).html

    @staticmethod
    def keyboard(r: ApprovalRequest, policy: Policy):
        return MARKUP.message(compose(r, policy)).keyboard


NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = directory().policies[0]
HOSTILE = "<b>&amp; </i> \"q\" 'a' & <script>"


def request(**fields: object) -> ApprovalRequest:
    base = ApprovalRequest.submit(
        model_name="iris",
        model_version="3",
        requested_by="dave",
        policy=POLICY,
        now=NOW,
        request_id="abcdefghij123456",  # the longest an id can be (16)
        gates=(
            GateResult("latency_p99_ms", 2.34, 100, "<=", True),
            GateResult("disagreement_rate", 0.2, 0.05, "<", False),
            GateResult("challenger_accuracy", 0.97, -1.0, ">=", True),
        ),
        links={"mlflow": "http://mlflow.local/#/runs/x?a=1&b=2"},
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def test_callback_data_is_short_versioned_and_parsed_back() -> None:
    data = callback_data(Button.APPROVE, "abcdefghij123456")
    assert data == "v1:a:abcdefghij123456"
    assert len(data.encode()) <= 64
    assert parse_callback(data) == Tap(Button.APPROVE, "abcdefghij123456")
    assert parse_callback("v1:r:xyz") == Tap(Button.REJECT, "xyz")
    for unknown in (None, "", "v2:a:x", "v1:z:x", "v1:a:", "approve"):
        assert parse_callback(unknown) is None
    with pytest.raises(ValueError, match="over 64 bytes"):
        callback_data(Button.APPROVE, "x" * 60)


def test_user_supplied_text_is_escaped() -> None:
    r = request(model_name=HOSTILE, requested_by=HOSTILE, links={HOSTILE: 'http://x/?"&<'})
    r.votes.append(Vote(HOSTILE, VoteKind.APPROVE, "telegram", NOW, comment=HOSTILE))
    text = parse_html(render.message_text(r, POLICY))  # raises on anything Telegram refuses
    assert text.count(HOSTILE) >= 4
    parse_html(render.reminder_text(r, event="reminded", people=[Person.of(HOSTILE, telegram=7)]))
    parse_html(render.reject_prompt(r, 1002, HOSTILE))


def test_the_fake_refuses_what_telegram_refuses() -> None:
    for bad in ("a < b", "<script>x</script>", "<b>open", "fish & chips", "<a>no href</a>"):
        with pytest.raises(HtmlError):
            parse_html(bad)


def test_a_long_history_still_fits_one_message() -> None:
    r = request(reason="r" * 5000)
    for n in range(300):
        r.votes.append(
            Vote(f"person-{n}", VoteKind.APPROVE, "slack", NOW + timedelta(minutes=n), "c" * 500)
        )
    html = render.message_text(r, POLICY)
    text = parse_html(html)
    assert utf16_length(text) <= render.TEXT_LIMIT  # what Telegram counts
    assert "earlier vote(s)" in text
    assert "person-299" in text  # the newest votes are kept
    assert "Gates" in text


def test_many_people_to_remind_fit_one_message() -> None:
    people = [Person.of(f"someone-with-a-long-name-{n}", telegram=10_000 + n) for n in range(500)]
    html = render.reminder_text(request(), event="escalated", people=people, escalate_to="sre")
    assert utf16_length(parse_html(html)) <= render.TEXT_LIMIT
    assert parse_html(html).endswith("more")


def test_buttons_while_pending_and_none_once_decided() -> None:
    overridable = dataclasses.replace(POLICY, allow_override_failed_gates=True)
    labels = [b.text for b in render.keyboard(request(), overridable).inline_keyboard[0]]  # type: ignore[union-attr]
    assert labels == ["⚠️ Approve over failed gates", "❌ Reject"]
    labels = [b.text for b in render.keyboard(request(), POLICY).inline_keyboard[0]]  # type: ignore[union-attr]
    assert labels == ["✅ Approve", "❌ Reject"]
    assert "does not allow approving over them" in render.message_text(request(), POLICY)
    assert render.keyboard(request(state=State.APPROVED), POLICY) is None


def test_a_launch_problem_is_shown_on_the_message() -> None:
    problem = "promotion could not start: <boom> — retry with `approval-bot outbox retry 7`"
    html = render.message_text(request(), POLICY, problem=problem)
    text = parse_html(html)
    assert "promotion could not start: <boom>" in str(text)
    assert "approval-bot outbox retry 7" in html


def test_a_failed_promotion_shows_why_escaped() -> None:
    failed = request(
        state=State.PROMOTION_FAILED,
        promotion_run_id="run-7",
        promotion_detail="rolled back: <iris-serving> never became Ready",
    )
    text = render.message_text(failed, POLICY)
    parse_html(text)
    assert "promotion_failed — rolled back: &lt;iris-serving&gt; never became Ready" in text


def test_a_request_under_a_canary_policy_says_what_approving_starts() -> None:
    canary = {"steps": [10, 25, 50, 100], "dwell_seconds": 600}
    r = request(promotion={"canary": canary})
    html = render.message_text(r, POLICY)
    parse_html(html)  # Telegram accepts it
    assert "<b>On approval: a canary</b> 10% → 25% → 50% → 100%, 10 min per step" in html
    decided = dataclasses.replace(r, state=State.APPROVED)
    assert "On approval" not in render.message_text(decided, POLICY)
