"""Socket Mode: the same approve flow over a WebSocket, envelopes acknowledged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.adapters.slack.ids import COMMAND, Action
from bot.domain.model import State
from tests.adapters.slack.conftest import (
    BOB,
    CAROL,
    CHANNEL,
    STRANGER,
    SlackBot,
    block_actions,
    eventually,
    running_bot,
)
from tests.adapters.slack.fake_slack import TEAM, FakeSlack
from tests.adapters.slack.fake_socket_mode import FakeSocketMode, wait_connected


@pytest.fixture
def socket_bot(sqlite_url: str, slack: FakeSlack) -> Iterator[tuple[SlackBot, FakeSocketMode]]:
    with FakeSocketMode() as socket:
        slack.socket_url = socket.url
        with running_bot(
            sqlite_url, slack, slack_app_token="xapp-1-test", slack_signing_secret=None
        ) as bot:
            wait_connected(socket)
            yield bot, socket


def test_approve_flow_over_socket_mode(socket_bot: tuple[SlackBot, FakeSocketMode]) -> None:
    bot, socket = socket_bot
    [opened] = [r for r in bot.slack.http.requests if r.path == "/api/apps.connections.open"]
    assert opened.headers["authorization"] == "Bearer xapp-1-test"

    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    socket.send("env-1", "interactive", block_actions(bot, Action.APPROVE, rid, BOB))
    eventually(lambda: socket.acked("env-1"), "the envelope to be acknowledged")
    bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "the update after bob")

    socket.send("env-2", "interactive", block_actions(bot, Action.APPROVE, rid, STRANGER))
    eventually(lambda: bot.slack.ephemerals(STRANGER), "the denial")
    assert "not enrolled" in bot.slack.ephemerals(STRANGER)[0]

    socket.send("env-3", "interactive", block_actions(bot, Action.APPROVE, rid, CAROL))
    bot.wait_update(ref, lambda b: "Approved" in b, "the decided update")
    assert bot.container.services.queries.get(rid).state is State.APPROVED
    assert socket.acked("env-2") is not None
    assert socket.acked("env-3") is not None


def test_slash_command_over_socket_mode(socket_bot: tuple[SlackBot, FakeSocketMode]) -> None:
    bot, socket = socket_bot
    rid = bot.submit()
    command = {
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": BOB,
        "command": COMMAND,
        "text": "pending",
        "api_app_id": "A0APP001",
        "response_url": bot.slack.response_url("socket-command"),
        "trigger_id": "1.2.socket",
    }
    socket.send("env-c", "slash_commands", command)
    eventually(lambda: socket.acked("env-c"), "the command to be acknowledged")
    eventually(lambda: bot.slack.responses(), "the answer")
    assert rid in bot.slack.responses()[0]["text"]


def test_without_a_signing_secret_there_is_no_http_endpoint(
    socket_bot: tuple[SlackBot, FakeSocketMode],
) -> None:
    bot, _socket = socket_bot
    assert bot.post("payload=%7B%7D").status_code == 404
