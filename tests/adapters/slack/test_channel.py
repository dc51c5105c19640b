"""The outbox's Slack side: reminders, escalation, expiry, user groups, and a failing API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.adapters.slack.ids import Action
from bot.domain.model import State
from tests.adapters.slack.conftest import (
    BOB,
    CAROL,
    DAVE,
    SlackBot,
    eventually,
    running_bot,
)
from tests.adapters.slack.fake_slack import FakeSlack, rate_limited, server_error
from tests.builders import config_dict, directory, policy_patch
from tests.fakes import FakeClock


def _replies(bot: SlackBot, ts: str) -> list[str]:
    return [c["text"] for c in bot.slack.calls("chat.postMessage") if c.get("thread_ts") == ts]


def test_reminders_escalation_and_expiry_in_the_thread(sqlite_url: str, slack: FakeSlack) -> None:
    clock = FakeClock()  # the scans' clock: time moves when the test says so
    with running_bot(sqlite_url, slack, clock=clock) as bot:
        _reminders_escalation_and_expiry(bot, clock)


def _reminders_escalation_and_expiry(bot: SlackBot, clock: FakeClock) -> None:
    bot.container.services.admin.apply(
        directory(
            policies=policy_patch(
                deadline="4h", remind_every="1h", escalate_after="2h", escalate_to="sre"
            )
        )
    )
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    bot.click(Action.APPROVE, rid, BOB)
    bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "bob's vote")

    # The server's scheduler scans every 0.2 s; moving the clock makes things due.
    clock.advance(hours=1, minutes=1)
    eventually(lambda: _replies(bot, ref["ts"]), "a reminder in the thread")
    [reminder] = _replies(bot, ref["ts"])
    assert "Reminder" in reminder
    assert "<@U03CAROL>" in reminder  # sre still needs one approval
    assert "<@U02BOB>" not in reminder  # bob voted, ml-leads is met

    clock.advance(hours=1)
    eventually(lambda: len(_replies(bot, ref["ts"])) >= 3, "the escalation and a reminder")
    escalation = next(t for t in _replies(bot, ref["ts"]) if "Escalation" in t)
    assert "sre" in escalation
    assert "<@U03CAROL>" in escalation

    clock.advance(hours=2)
    final = bot.wait_update(ref, lambda b: "Expired" in b, "the expired message")
    assert "system decision" in final
    assert "approval:v1:approve" not in final


@pytest.fixture
def synced_bot(sqlite_url: str, slack: FakeSlack) -> Iterator[SlackBot]:
    with running_bot(sqlite_url, slack) as bot:
        groups = config_dict()["groups"]
        groups["sre"] = {"members": ["carol"], "slack_usergroup": "S0SRE"}
        bot.container.services.admin.apply(directory(groups=groups))
        yield bot


def test_slack_user_group_members_count_for_the_synced_group(
    synced_bot: SlackBot, slack: FakeSlack
) -> None:
    slack.usergroups["S0SRE"] = [DAVE]
    rid = synced_bot.submit(requested_by="alice")
    ref = synced_bot.message(rid)
    synced_bot.click(Action.APPROVE, rid, DAVE)  # dave is in sre only through Slack
    synced_bot.wait_update(ref, lambda b: "sre 1/1 (dave)" in b, "dave's vote for sre")
    assert slack.calls("usergroups.users.list")[0]["usergroup"] == "S0SRE"
    synced_bot.click(Action.APPROVE, rid, BOB)
    synced_bot.wait_update(ref, lambda b: "Approved" in b, "the decision")
    assert synced_bot.container.services.queries.get(rid).state is State.APPROVED
    assert len(slack.calls("usergroups.users.list")) == 1  # cached


def test_a_429_burst_on_chat_update_still_lands(bot: SlackBot, slack: FakeSlack) -> None:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    slack.fail("chat.update", rate_limited(retry_after=1), rate_limited(retry_after=1))
    bot.click(Action.APPROVE, rid, BOB)
    bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "the update after the 429s")
    assert slack.attempts("chat.update") == 3  # two 429s, then the update
    assert len(bot.updates(ref)) == 1


def test_a_failing_slack_api_never_loses_a_vote(bot: SlackBot, slack: FakeSlack) -> None:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    slack.fail("chat.update", *[server_error() for _ in range(5)])
    bot.click(Action.APPROVE, rid, BOB)
    eventually(lambda: bot.container.services.queries.get(rid).votes, "bob's vote")
    bot.click(Action.APPROVE, rid, CAROL)
    eventually(
        lambda: bot.container.services.queries.get(rid).state is State.APPROVED, "the approval"
    )
    # The outbox retries with backoff until Slack answers again.
    bot.wait_update(ref, lambda b: "Approved" in b, "the decided message")


def test_a_message_deleted_in_slack_is_logged_not_fatal(
    bot: SlackBot, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    slack.deleted.add((ref["channel"], ref["ts"]))
    with caplog.at_level(logging.WARNING, logger="bot.slack"):
        bot.click(Action.APPROVE, rid, BOB)
        eventually(lambda: slack.attempts("chat.update"), "an attempt to update")
        eventually(lambda: _delivered_updates(bot, rid), "the update effect to be settled")
    assert "is gone (message_not_found)" in caplog.text
    with bot.container.services.uow() as uow:
        assert not uow.outbox.items(state="dead")


def _delivered_updates(bot: SlackBot, rid: str) -> bool:
    with bot.container.services.uow() as uow:
        items = uow.outbox.items(state="delivered")
    return any(i.kind == "chat.update" and i.request_id == rid for i in items)


class NoPipeline:
    """The promotion launcher's system, refusing for good (as KFP does for a missing
    pipeline)."""

    async def deliver(self, item, request) -> str | None:
        from bot.ports.effects import PermanentEffectError

        raise PermanentEffectError("pipeline 'promotion' not found on KFP_HOST")


def test_a_launch_that_fails_for_good_shows_on_the_message(bot: SlackBot) -> None:
    bot.container.add_effect_handler("kfp.launch_promotion", NoPipeline())
    rid = bot.submit()
    ref = bot.message(rid)
    bot.click(Action.APPROVE, rid, BOB)
    bot.click(Action.APPROVE, rid, CAROL)
    shown = bot.wait_update(
        ref, lambda b: "promotion could not start" in b, "the launch problem on the message"
    )
    assert "pipeline 'promotion' not found on KFP_HOST" in shown
    assert "approval-bot outbox retry" in shown


def test_the_served_bot_calls_slack_over_kept_connections(bot: SlackBot, slack: FakeSlack) -> None:
    """The Web API clients share one connection pool while the bot serves: against Slack,
    a new connection per call would be a TLS handshake per message."""
    for n in range(3):
        bot.message(bot.submit(model_name=f"kept-{n}", requested_by="dave"))
    bot.click(Action.APPROVE, bot.submit(model_name="kept-3", requested_by="dave"), BOB)

    def chat_calls() -> list[Any]:
        return [r for r in slack.http.requests if r.path.startswith("/api/chat.")]

    eventually(lambda: len(chat_calls()) >= 5, "four posts and the vote's update")
    calls = chat_calls()
    assert len({r.peer for r in calls}) < len(calls), "some connection carried a second call"


def test_starting_with_slack_bot_token_in_the_environment_warns_of_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, slack: FakeSlack
) -> None:
    """Bolt reads SLACK_BOT_TOKEN too and used to warn, at every start, that it "will be
    unused" (the client it is given carries that token)."""
    from bot.adapters.slack.channel import make_app, make_client
    from tests.adapters.slack.conftest import slack_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    settings = slack_settings("sqlite://", slack).slack
    with caplog.at_level(logging.INFO):
        make_app(settings, make_client(settings))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
