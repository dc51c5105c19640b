"""Property: whatever a request holds within the API's documented input limits (README.md,
"HTTP API": names up to 200 characters, 50 gates, 20 links of 2,000 characters, reasons of
2,000; any Unicode but control characters; ``<``, ``&``, ``<!here>``, ``@channel``), every
payload the bot sends Slack is one Slack takes, and none of them pings a whole channel.

Two levels: the Slack markup over many generated messages (no I/O, every state a request
can be in), and the running bot against the strict fake Slack (a post, an override, a
reject through the modal, ``/approvals show``)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.slack.ids import Action
from bot.adapters.slack.markup import SlackMarkup
from bot.domain import text
from bot.domain.gates import GATE_OPS
from bot.domain.model import ApprovalRequest, GateResult, Person, Policy, State, Vote, VoteKind
from bot.domain.quorum import Rule
from bot.service.chat import texts
from bot.service.chat.message import compose
from bot.service.chat.rich import Reply
from bot.service.schemas import MAX_LINKS
from tests.adapters.slack import block_kit
from tests.adapters.slack.conftest import BOB, CAROL, eventually, running_bot
from tests.adapters.slack.fake_slack import FakeSlack
from tests.builders import directory, policy_patch

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MARKUP = SlackMarkup()
# What breaks markup, pings, or counts differently: Slack's control characters, written and
# bare mentions, mrkdwn's styles, entities, wide and combining characters.
TOKENS = (
    "<!here>",
    "<!channel>",
    "<!everyone|all>",
    "@here",
    "@channel",
    "@everyone",
    "<@U02BOB>",
    "<!subteam^S0SRE>",
    "<https://x.example|click>",
    "&",
    "&amp;",
    "&lt;",
    "<",
    ">",
    "*",
    "_",
    "`",
    "~",
    "|",
    ">quote",
    "é",
    "🗳️",
    "👩🏽‍💻",
    "中文",
    "\u200b",
    "e\u0301",
    " ",
)
CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))


def within(limit: int, *, name: bool = True, multiline: bool = False) -> st.SearchStrategy[str]:
    """Text the API takes for a field of ``limit`` characters: pieces of ``TOKENS`` and any
    characters, sometimes repeated up to the limit."""
    piece = st.one_of(st.sampled_from(TOKENS), st.text(CHARS, max_size=20))
    if multiline:
        piece = st.one_of(piece, st.sampled_from(("\n", "\t", "\n\n")))
    joined = st.lists(piece, min_size=1, max_size=8).map("".join)
    filled = st.tuples(joined, st.booleans()).map(lambda p: p[0] * (limit if p[1] else 1))
    pattern = text.NAME_PATTERN if name else (text.LINE_PATTERN if not multiline else None)

    def fits(value: str) -> bool:
        if multiline:
            return text.comment_problem(value) is None and bool(value.strip())
        return pattern is not None and re.fullmatch(pattern, value) is not None

    return filled.map(lambda s: s[:limit].strip()).filter(lambda s: bool(s) and fits(s))


def gates(max_size: int = 50) -> st.SearchStrategy[list[GateResult]]:
    number = st.floats(allow_nan=False, allow_infinity=False, width=32) | st.just(-1.0)
    one = st.builds(GateResult, within(200), number, number, st.sampled_from(GATE_OPS))
    return st.lists(one, max_size=max_size, unique_by=lambda g: g.name)


def links() -> st.SearchStrategy[dict[str, str]]:
    url = st.one_of(
        st.just(""),
        within(1990, name=False).map(lambda s: "https://example.com/" + s),
        within(2000, name=False),
    )
    return st.dictionaries(within(64), url.map(lambda u: u[:2000]), max_size=MAX_LINKS)


@st.composite
def requests(draw: st.DrawFn) -> tuple[ApprovalRequest, Policy, str | None]:
    groups = draw(st.lists(within(100), min_size=1, max_size=6, unique=True))
    policy = Policy(
        "*",
        tuple(Rule(g, draw(st.integers(1, 50))) for g in groups),
        allow_override_failed_gates=draw(st.booleans()),
    )
    request = ApprovalRequest.submit(
        model_name=draw(within(200)),
        model_version=draw(within(64)),
        requested_by=draw(within(200)),
        policy=policy,
        now=NOW,
        challenger_run_id=draw(st.none() | within(64, name=False)),
        staging_run_id=draw(st.none() | within(128, name=False)),
        gates=tuple(draw(gates())),
        links=draw(links()),
    )
    for n in range(draw(st.integers(0, 12))):
        vote = Vote(
            draw(within(100)),
            draw(st.sampled_from(VoteKind)),
            "slack",
            NOW + timedelta(minutes=n),
            comment=draw(st.none() | within(2000, multiline=True)),
            groups=tuple(draw(st.lists(st.sampled_from(groups), max_size=3))),
            override=draw(st.booleans()),
        )
        request.votes.append(vote)
    state = draw(st.sampled_from(State))
    if state is not State.PENDING:
        request.state = state
        request.decided_at = NOW + timedelta(days=1)
        request.decided_by = ",".join(draw(st.lists(within(100), min_size=1, max_size=5)))
        request.reason = draw(st.none() | within(2000, multiline=True))
        if state in (State.PROMOTING, State.PROMOTED, State.PROMOTION_FAILED):
            request.promotion_run_id = draw(within(64, name=False))
            request.promotion_detail = draw(st.none() | within(2000, multiline=True))
    problem = draw(st.none() | within(4000, multiline=True))
    return request, policy, problem


def accepted(payload: dict[str, Any]) -> None:
    """What the strict fake would answer: taken, and no channel-wide mention."""
    blocks = payload.get("blocks")
    assert block_kit.message_problems(blocks) == [] if blocks is not None else True
    assert block_kit.block_mentions(blocks) == []
    assert block_kit.special_mentions(payload["text"], auto_parsed=False) == []
    assert payload["text"].strip() and len(payload["text"]) <= block_kit.MESSAGE_TEXT_MAX


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_request_message_is_one_slack_takes(
    drawn: tuple[ApprovalRequest, Policy, str | None],
) -> None:
    request, policy, problem = drawn
    for buttons in (True, False):  # the posted message, and `show`
        message = MARKUP.message(compose(request, policy, problem=problem, buttons=buttons))
        accepted({"text": message.text, "blocks": message.blocks})
    people = [Person.of(f"p{n}", slack=f"U0{n}") for n in range(30)]
    for escalated in (None, request.model_name):
        line = texts.reminder(request, escalated_to=escalated, people=people)
        reply = MARKUP.reply(Reply((line,)))
        accepted({"text": reply.text, "blocks": reply.blocks})


@given(within(2000, multiline=True), within(200))
@settings(max_examples=50, deadline=None)
def test_every_answer_is_one_slack_takes(quote: str, name: str) -> None:
    """A reply with a quoted reason, a refusal naming an id, a notice of any length."""
    from bot.domain import errors
    from bot.service.identity import IdentityKind

    kind = IdentityKind("slack", "Slack user id", "Slack account", r"U\w+", "U1")
    for reply in (
        Reply((texts.notice(quote * 3),)),
        Reply((("ℹ️ ", name),), quote=quote),
        Reply((texts.explain(errors.Refused(name), kind, name),)),
    ):
        said = MARKUP.reply(reply)
        accepted({"text": said.text, "blocks": said.blocks})


def test_the_running_bot_sends_only_what_slack_takes(sqlite_url: str) -> None:
    """Through the real app: each generated request is posted, approved over its failed
    gates, rejected with a generated reason through the modal, and shown with
    ``/approvals show``; the strict fake Slack takes every payload and hears no ping."""
    # Slack would pace 40 posts into one channel; pacing is not what this test is about.
    with FakeSlack(limits={}) as slack, running_bot(sqlite_url, slack) as bot:
        bot.container.services.admin.apply(
            directory(policies=policy_patch(allow_override_failed_gates=True))
        )

        runs = itertools.count()

        @settings(
            max_examples=30,
            deadline=None,
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
                staging_run_id=f"staging-{next(runs)}",  # a new request each time, not a repeat
            )
            ref = bot.message(rid)
            bot.click(Action.APPROVE, rid, BOB)
            eventually(lambda: bot.container.services.queries.get(rid).votes, "bob's vote")
            opened = len(slack.calls("views.open"))
            bot.click(Action.REJECT, rid, CAROL)
            eventually(lambda: len(slack.calls("views.open")) > opened, "the reject modal")
            bot.submit_modal(slack.calls("views.open")[-1]["view"], CAROL, reason)
            bot.wait_update(ref, lambda b: "Rejected" in b, "the rejected message")
            answers = len(slack.responses())
            bot.command(f"show {rid}", BOB)
            eventually(lambda: len(slack.responses()) > answers, "the answer to show")
            assert slack.refused == [] and slack.pings == []

        one()
        assert len(slack.calls("chat.postMessage")) >= 1
