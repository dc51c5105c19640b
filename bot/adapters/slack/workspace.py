"""Which Slack workspace a payload comes from: only the bot's own people act.

A Slack Connect channel brings people of other organisations into a channel the bot posts
in; their clicks, modals and slash commands reach the app like anyone's, with their own
workspace's ``team.id`` and ``user.team_id`` (docs.slack.dev, "Slack Connect: apps and
shared channels"; interaction payloads carry ``team`` and ``user.team_id``, slash commands
``team_id``). A user id is not an identity on its own: it is one in the bot's workspace,
the one ``auth.test`` names (Bolt calls it once per process and keeps its answer as the
request's ``authorize_result``). A payload that names any other workspace, or none, is
refused (``Interactions.stranger``).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext


def teams_named(body: dict[str, Any]) -> set[str]:
    """The workspaces a payload says its actor acts from (interactions, slash commands,
    events)."""
    found: set[str] = set()
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        found.add(str(team["id"]))
    elif isinstance(team, str) and team:
        found.add(team)
    if body.get("team_id"):
        found.add(str(body["team_id"]))
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        found.add(str(user["team_id"]))
    event = body.get("event")
    if isinstance(event, dict):
        for key in ("user_team", "team"):
            value = str(event.get(key) or "")
            if value.startswith("T"):  # an E... is an enterprise (org), not a workspace
                found.add(value)
    return found


def stranger(body: dict[str, Any], context: AsyncBoltContext) -> str | None:
    """The other workspace(s) the payload comes from, or None when it is the bot's own."""
    result = context.authorize_result
    ours = result.team_id if result is not None else None
    named = teams_named(body)
    if ours and named == {ours}:
        return None
    return ", ".join(sorted(named - {ours})) or "unknown"
