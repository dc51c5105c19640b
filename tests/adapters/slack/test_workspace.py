"""Only the bot's own workspace acts: a Slack Connect channel's people of another organisation
are refused with a short answer, and an attempted vote is audited as refusals are. Before,
any workspace's user could click, refused only when their id happened not to be enrolled."""

from __future__ import annotations

from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext

from bot.adapters.slack.ids import Action
from bot.adapters.slack.workspace import stranger, teams_named
from tests.adapters.slack.conftest import BOB, CAROL, SlackBot, block_actions, eventually
from tests.adapters.slack.fake_slack import OTHER_TEAM, TEAM


def denied(bot: SlackBot, rid: str) -> list[Any]:
    queries = bot.container.services.queries
    return [r for r in queries.history([queries.get(rid)])[rid] if r.kind == "denied"]


def test_an_enrolled_id_clicking_from_another_workspace_is_refused_and_audited(
    bot: SlackBot,
) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    assert bot.click(Action.APPROVE, rid, BOB, team=OTHER_TEAM).status_code == 200
    eventually(lambda: bot.slack.ephemerals(BOB), "the refusal")
    [said] = bot.slack.ephemerals(BOB)
    assert "another workspace" in said and OTHER_TEAM in said
    assert bot.container.services.queries.get(rid).votes == []
    [event] = denied(bot, rid)
    assert event.actor == f"slack user {BOB}"
    assert event.data["why"] == "stranger" and event.data["vote"] == "approve"

    bot.click(Action.APPROVE, rid, BOB)  # the same id, from the bot's workspace: a vote
    eventually(lambda: bot.container.services.queries.get(rid).votes, "bob's vote")


def test_a_guest_whose_own_team_is_another_is_refused(bot: SlackBot) -> None:
    """In a shared channel ``team.id`` may be the host's while ``user.team_id`` is the
    guest's own workspace."""
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    payload = block_actions(bot, Action.APPROVE, rid, CAROL)
    payload["user"]["team_id"] = OTHER_TEAM
    bot.post_payload(payload)
    eventually(lambda: bot.slack.ephemerals(CAROL), "the refusal")
    assert "another workspace" in bot.slack.ephemerals(CAROL)[0]
    assert bot.container.services.queries.get(rid).votes == []


def test_reject_and_its_modal_from_another_workspace_are_refused(bot: SlackBot) -> None:
    rid = bot.submit()
    bot.message(rid)
    bot.click(Action.REJECT, rid, BOB, team=OTHER_TEAM)
    eventually(lambda: bot.slack.ephemerals(BOB), "the refusal")
    assert bot.slack.calls("views.open") == []  # no modal for a stranger
    bot.click(Action.REJECT, rid, BOB)
    eventually(lambda: bot.slack.calls("views.open"), "the modal, for bob of the workspace")
    view = bot.slack.calls("views.open")[0]["view"]
    answer = bot.submit_modal(view, BOB, "looks wrong", team=OTHER_TEAM).json()
    assert answer["response_action"] == "errors"
    assert "another workspace" in next(iter(answer["errors"].values()))
    assert bot.container.services.queries.get(rid).is_pending
    assert [e.data["vote"] for e in denied(bot, rid)] == ["reject"]


def test_a_slash_command_from_another_workspace_is_not_answered(bot: SlackBot) -> None:
    bot.submit()
    bot.command("pending", BOB, team=OTHER_TEAM)
    eventually(bot.slack.responses, "the answer")
    [answer] = bot.slack.responses()
    assert "Not answered" in answer["text"] and "another workspace" in answer["text"]
    assert "iris-classifier" not in answer["text"]


def _context(team: str | None) -> AsyncBoltContext:
    context = AsyncBoltContext()
    if team is not None:
        context["authorize_result"] = AuthorizeResult(enterprise_id=None, team_id=team)
    return context


def test_which_workspace_a_payload_names() -> None:
    ours = _context(TEAM)
    assert stranger({"team": {"id": TEAM}, "user": {"id": "U1", "team_id": TEAM}}, ours) is None
    assert stranger({"team_id": TEAM, "user_id": "U1"}, ours) is None  # a slash command
    event = {"team_id": TEAM, "event": {"user": "U1", "user_team": OTHER_TEAM}}
    assert stranger(event, ours) == OTHER_TEAM
    assert teams_named({"event": {"user_team": "E0ORG"}}) == set()  # an org is no workspace
    assert stranger({"user": {"id": "U1"}}, ours) == "unknown"  # names none: refused
    assert stranger({"team": {"id": TEAM}}, _context(None)) == TEAM  # ours unknown: refused
