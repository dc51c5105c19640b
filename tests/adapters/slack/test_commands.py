"""/approvals: every subcommand answers ephemerally through the response URL."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.adapters.slack.ids import Action
from tests.adapters.slack.conftest import ALICE, BOB, CAROL, STRANGER, SlackBot, eventually
from tests.adapters.slack.fake_slack import Failure


def ask(bot: SlackBot, text: str, user: str = BOB) -> dict[str, Any]:
    """Run the command and return the one answer posted to its response URL."""
    before = len(bot.slack.responses())
    response = bot.command(text, user)
    assert response.status_code == 200
    assert not response.content  # acked at once; the answer comes through response_url
    eventually(lambda: len(bot.slack.responses()) > before, f"an answer to {text!r}")
    answer = bot.slack.responses()[before]
    assert answer["response_type"] == "ephemeral"
    return answer


def test_pending_lists_open_requests(bot: SlackBot) -> None:
    assert "Nothing is waiting" in ask(bot, "pending")["text"]
    rid = bot.submit()
    answer = ask(bot, "pending")["text"]
    assert rid in answer
    assert "iris-classifier v3" in answer


def test_show_renders_the_request_without_buttons(bot: SlackBot) -> None:
    rid = bot.submit()
    answer = ask(bot, f"show {rid}")
    blocks = str(answer["blocks"])
    assert "latency_p99_ms" in blocks
    assert "no champion yet" in blocks
    assert "approval:v1:approve" not in blocks


def test_show_of_an_unknown_request_says_so(bot: SlackBot) -> None:
    assert "unknown approval request 'nope'" in ask(bot, "show nope")["text"]


def test_history_lists_decisions_newest_first(bot: SlackBot) -> None:
    first = bot.submit(model_name="model-a", requested_by="dave")
    ref = bot.message(first)
    bot.click(Action.APPROVE, first, BOB)
    bot.click(Action.APPROVE, first, CAROL)
    bot.wait_update(ref, lambda b: "Approved" in b, "the decision")
    second = bot.submit(model_name="model-b")

    everything = ask(bot, "history")["text"]
    assert everything.index(second) < everything.index(first)
    assert "*approved* by bob,carol" in everything
    only_a = ask(bot, "history model-a 5")["text"]
    assert first in only_a
    assert second not in only_a
    assert "The last 1 request(s)" in ask(bot, "history 1")["text"]


def test_audit_shows_the_trail_of_one_request(bot: SlackBot) -> None:
    rid = bot.submit()
    bot.message(rid)
    bot.click(Action.APPROVE, rid, STRANGER)
    eventually(lambda: bot.slack.ephemerals(STRANGER), "the denial")
    answer = ask(bot, f"audit {rid}")["text"]
    assert "*submitted* by alice" in answer
    assert f"*denied* by slack user {STRANGER}" in answer


def test_whoami_names_the_person_and_groups(bot: SlackBot) -> None:
    assert "You are *alice*" in ask(bot, "whoami", ALICE)["text"]
    assert "ml-leads" in ask(bot, "whoami", ALICE)["text"]
    stranger = ask(bot, "whoami", STRANGER)["text"]
    assert "not enrolled" in stranger
    assert STRANGER in stranger


@pytest.mark.parametrize("text", ["", "help"])
def test_help_shows_usage(bot: SlackBot, text: str) -> None:
    answer = ask(bot, text)["text"]
    assert "/approvals pending" in answer
    assert "/approvals history [MODEL] [N]" in answer


@pytest.mark.parametrize("text", ["approve abc", "show", "history a b c", "history a b"])
def test_anything_else_gets_the_usage(bot: SlackBot, text: str) -> None:
    answer = ask(bot, text)["text"]
    assert "/approvals pending" in answer
    assert not answer.startswith("*/approvals*")  # it says what was wrong first


# -- who may read (docs/configuration.md, APPROVAL_BOT_READ_ACCESS) ------------------------


@pytest.mark.parametrize("text", ["pending", "show {rid}", "history", "audit {rid}"])
def test_people_who_are_not_enrolled_read_nothing(bot: SlackBot, text: str) -> None:
    rid = bot.submit()
    answer = ask(bot, text.format(rid=rid), user=STRANGER)["text"]
    assert "⛔" in answer and "enrolled" in answer
    assert rid not in answer and "iris-classifier" not in answer
    assert "not enrolled" in ask(bot, "whoami", user=STRANGER)["text"]  # whoami still answers


def test_read_access_can_be_limited_to_groups(slack, sqlite_url) -> None:
    from tests.adapters.slack.conftest import running_bot

    with running_bot(sqlite_url, slack, read_access="sre") as limited:
        rid = limited.submit()
        assert rid in ask(limited, "pending", user=CAROL)["text"]  # carol is in sre
        refused = ask(limited, "pending", user=ALICE)["text"]  # alice is in ml-leads only
        assert "⛔" in refused and "sre" in refused and rid not in refused


def test_read_access_can_be_opened_to_anyone_in_the_workspace(slack, sqlite_url) -> None:
    from tests.adapters.slack.conftest import running_bot

    with running_bot(sqlite_url, slack, read_access="anyone") as open_bot:
        rid = open_bot.submit()
        assert rid in ask(open_bot, "pending", user=STRANGER)["text"]


def test_an_answer_slack_refuses_is_logged(bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
    """A response URL can be used up or expire (5 uses in 30 minutes): Slack answers 404
    ``expired_url``, which ``respond()`` does not raise; the bot says so instead of nothing."""
    bot.slack.fail("response_url", Failure(404, "expired_url", {}))
    with caplog.at_level(logging.WARNING, logger="bot.slack"):
        bot.command("help", BOB)
        eventually(lambda: "refused the answer" in caplog.text, "the warning")
    assert "404 expired_url" in caplog.text
