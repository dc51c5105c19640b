"""The fake Slack refuses what Slack refuses (``block_kit.py`` and ``rate_limits.py`` cite
where Slack says so), driven through the Slack SDK's own client, as the bot drives it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.markup import reject_modal
from tests.adapters.slack.fake_slack import TEAM, FakeSlack
from tests.adapters.slack.rate_limits import Limit

CHANNEL = "C0APPROVALS"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeSlack]:
    with FakeSlack(clock=clock) as slack:
        slack.expect_refusals()  # refusing is what these tests are about
        yield slack


@pytest.fixture
def web(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test-token", base_url=fake.api_url, retry_handlers=[])


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def button(*, value: str = "r1", confirm_text: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": "approve",
        "text": plain("Approve"),
        "value": value,
    }
    if confirm_text is not None:
        element["confirm"] = {
            "title": plain("Sure?"),
            "text": confirm_text,
            "confirm": plain("Yes"),
            "deny": plain("No"),
        }
    return {"type": "actions", "elements": [element]}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def refused(web: WebClient, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        web.chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    return dict(caught.value.response.data)  # type: ignore[arg-type]


def accepted(web: WebClient, blocks: list[dict[str, Any]]) -> None:
    assert web.chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)["ok"]


@pytest.mark.parametrize(
    ("good", "bad", "where"),
    [
        # a confirm dialog's text: plain_text, at most 300 characters
        (button(confirm_text=plain("x" * 300)), button(confirm_text=plain("x" * 301)), "/blocks/0"),
        (button(confirm_text=plain("gates")), button(confirm_text=mrkdwn("gates")), "/text/type"),
        # a button's value: at most 2,000 characters
        (button(value="v" * 2000), button(value="v" * 2001), "/blocks/0"),
        # a section's text: 1 to 3,000 characters; a field 2,000
        (section("s" * 3000), section("s" * 3001), "/blocks/0"),
        (section("s"), section(""), "/blocks/0/text/text"),
        (
            {"type": "section", "fields": [mrkdwn("f" * 2000)]},
            {"type": "section", "fields": [mrkdwn("f" * 2001)]},
            "/blocks/0/fields/0/text",
        ),
        # a header: plain_text, at most 150 characters
        (
            {"type": "header", "text": plain("h" * 150)},
            {"type": "header", "text": plain("h" * 151)},
            "",
        ),
        ({"type": "header", "text": plain("h")}, {"type": "header", "text": mrkdwn("h")}, "/type"),
        # a context: at most 10 elements
        (
            {"type": "context", "elements": [mrkdwn("c")] * 10},
            {"type": "context", "elements": [mrkdwn("c")] * 11},
            "/blocks/0",
        ),
        # no block type Slack does not know
        (section("known"), {"type": "sectionn", "text": mrkdwn("x")}, "/blocks/0/type"),
    ],
)
def test_a_block_slack_refuses_is_refused_and_its_limit_is_taken(
    web: WebClient, fake: FakeSlack, good: dict[str, Any], bad: dict[str, Any], where: str
) -> None:
    accepted(web, [good])
    answer = refused(web, [bad])
    assert answer["error"] == "invalid_blocks"
    messages = answer["response_metadata"]["messages"]
    assert all(m.startswith("[ERROR] ") for m in messages)
    assert any(where in m for m in messages), messages
    assert fake.refused[-1].error == "invalid_blocks"
    assert len(fake.posts(CHANNEL)) == 1  # the refused one was not posted


def test_fifty_blocks_fit_in_a_message_and_fifty_one_do_not(web: WebClient) -> None:
    accepted(web, [section(str(n)) for n in range(50)])
    answer = refused(web, [section(str(n)) for n in range(51)])
    assert "no more than 50 items allowed [json-pointer:/blocks]" in answer["errors"][0]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_a_message_without_text_or_blocks_and_an_overlong_text_are_refused(
    web: WebClient,
) -> None:
    with pytest.raises(SlackApiError, match="no_text"):
        web.chat_postMessage(channel=CHANNEL, text=" ")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        web.chat_postMessage(channel=CHANNEL, text="t" * 40_001)
    assert web.chat_postMessage(channel=CHANNEL, text="t" * 40_000)["ok"]


def test_ephemerals_and_updates_are_checked_too(web: WebClient) -> None:
    posted = web.chat_postMessage(channel=CHANNEL, text="hi", blocks=[section("hi")])
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        web.chat_update(channel=CHANNEL, ts=posted["ts"], text="hi", blocks=[section("")])
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        web.chat_postEphemeral(channel=CHANNEL, user="U1", text="hi", blocks=[section("x" * 3001)])


def test_an_unknown_ts_is_message_not_found(web: WebClient) -> None:
    with pytest.raises(SlackApiError, match="message_not_found"):
        web.chat_update(channel=CHANNEL, ts="1700000000.999999", text="x")
    posted = web.chat_postMessage(channel=CHANNEL, text="hi")
    assert web.chat_update(channel=CHANNEL, ts=posted["ts"], text="edited")["ok"]
    with pytest.raises(SlackApiError, match="message_not_found"):
        web.chat_update(channel="C0ELSEWHERE", ts=posted["ts"], text="x")


def test_a_modal_past_its_limits_is_invalid_arguments(web: WebClient, fake: FakeSlack) -> None:
    modal = reject_modal("r1", channel=CHANNEL, ts="1.0")
    assert web.views_open(trigger_id="t1", view=modal)["ok"]
    for bad in (
        {**modal, "title": plain("t" * 25)},  # title: at most 24
        {**modal, "title": mrkdwn("Reject")},  # title: plain_text
        {**modal, "private_metadata": "m" * 3001},
        {key: value for key, value in modal.items() if key != "submit"},  # has an input
    ):
        with pytest.raises(SlackApiError) as caught:
            web.views_open(trigger_id="t1", view=bad)
        assert caught.value.response["error"] == "invalid_arguments"
        assert caught.value.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert len(fake.refused) == 4


def test_a_response_url_answers_400_invalid_blocks(fake: FakeSlack) -> None:
    good = {"text": "ok", "blocks": [section("ok")], "response_type": "ephemeral"}
    bad = {**good, "blocks": [section("x" * 3001)]}
    assert httpx.post(fake.response_url("a"), json=good).status_code == 200
    answer = httpx.post(fake.response_url("a"), json=bad)
    assert (answer.status_code, answer.text) == (400, "invalid_blocks")
    assert fake.responses() == [good]


def test_rate_limits_per_method_and_per_channel(
    web: WebClient, fake: FakeSlack, clock: Clock
) -> None:
    posted = web.chat_postMessage(channel=CHANNEL, text="first")
    for _ in range(50):  # chat.update: Tier 3, 50 a minute
        web.chat_update(channel=CHANNEL, ts=posted["ts"], text="again")
    with pytest.raises(SlackApiError) as caught:
        web.chat_update(channel=CHANNEL, ts=posted["ts"], text="one too many")
    response = caught.value.response
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert response.headers["Retry-After"] == "60"
    clock.now += 60
    assert web.chat_update(channel=CHANNEL, ts=posted["ts"], text="a minute later")["ok"]

    for _ in range(10):  # chat.postMessage: bursts of 10 per channel in 10 s
        web.chat_postMessage(channel=CHANNEL, text="burst")
    with pytest.raises(SlackApiError, match="ratelimited"):
        web.chat_postMessage(channel=CHANNEL, text="over the burst")
    assert web.chat_postMessage(channel="C0OTHER", text="another channel")["ok"]
    assert fake.refused == []  # a 429 is not a refusal of the payload


def test_limits_can_be_set_per_test(clock: Clock) -> None:
    with FakeSlack(clock=clock, limits={"chat.update": Limit(1, 1.0)}) as slack:
        web = WebClient(token="xoxb-t", base_url=slack.api_url, retry_handlers=[])
        posted = web.chat_postMessage(channel=CHANNEL, text="x")
        web.chat_update(channel=CHANNEL, ts=posted["ts"], text="y")
        with pytest.raises(SlackApiError, match="ratelimited"):
            web.chat_update(channel=CHANNEL, ts=posted["ts"], text="z")


def test_auth_test_names_the_workspace(web: WebClient) -> None:
    assert web.auth_test()["team_id"] == TEAM


def test_channel_wide_mentions_are_heard(web: WebClient, fake: FakeSlack) -> None:
    web.chat_postMessage(channel=CHANNEL, text="model &lt;!here&gt; and @channel")  # quiet
    web.chat_postMessage(channel=CHANNEL, text="fallback", blocks=[section("@here, verbatim")])
    assert fake.pings == [("chat.postMessage", "here")]  # mrkdwn parses a bare @here
    quiet = {**mrkdwn("@here"), "verbatim": True}
    web.chat_postMessage(channel=CHANNEL, text="x", blocks=[{"type": "section", "text": quiet}])
    web.chat_postMessage(channel=CHANNEL, text="<!channel> look")
    assert fake.pings == [("chat.postMessage", "here"), ("chat.postMessage", "channel")]


def test_a_refusal_nobody_expected_fails_the_test() -> None:
    slack = FakeSlack().__enter__()
    web = WebClient(token="xoxb-t", base_url=slack.api_url, retry_handlers=[])
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel=CHANNEL, text="x", blocks=[section("")])
    with pytest.raises(AssertionError, match="what Slack refuses"):
        slack.__exit__(None, None, None)
