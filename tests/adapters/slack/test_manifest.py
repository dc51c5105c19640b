"""slack/manifest.yaml asks for the scopes the bot's calls need, and no other; README.md lists
each with the call that needs it (issue 22: ``users:read`` was asked for and never used)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[3]
# The bot token scopes each Web API method needs (docs.slack.dev/reference/methods/<method>,
# "Required scopes"). conversations.* need the history scope of the conversation's kind:
# the request channel is a public (channels:) or a private (groups:) one.
METHOD_SCOPES = {
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "views.open": set(),
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "usergroups.users.list": {"usergroups:read"},
    # files_upload_v2 calls both: the evidence pictures (files.upload is retired).
    "files.upload.v2": {"files:write"},
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
}
SLASH_COMMAND_SCOPE = "commands"  # features.slash_commands


def methods_called() -> set[str]:
    """The Web API methods the Slack channel's code calls (``client.chat_update`` ...)."""
    found = set()
    for path in (ROOT / "bot" / "adapters" / "slack").glob("*.py"):
        for name in re.findall(r"\.([a-z]+_[A-Za-z0-9_]+)\b", path.read_text()):
            if callable(getattr(AsyncWebClient, name, None)) and not name.startswith("api_"):
                found.add(name.replace("_", "."))
    return found


def manifest() -> dict:
    return yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())


def test_the_manifest_asks_for_what_the_calls_need_and_nothing_else() -> None:
    called = methods_called()
    assert called, "no Web API call found: the scan is broken"
    unknown = called - METHOD_SCOPES.keys()
    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES (from Slack's docs)"
    needed = set().union(*(METHOD_SCOPES[m] for m in called))
    if manifest()["features"].get("slash_commands"):
        needed.add(SLASH_COMMAND_SCOPE)
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed


def test_the_readme_names_each_scope_with_the_call_that_needs_it() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z:.]+)` \| (.+) \|$", readme, flags=re.M))
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert scopes <= rows.keys(), f"README.md lists no row for {sorted(scopes - rows.keys())}"
    for scope in scopes - {SLASH_COMMAND_SCOPE}:
        calls = {m for m, needs in METHOD_SCOPES.items() if scope in needs}
        assert any(f"`{m}`" in rows[scope] for m in calls), (scope, rows[scope])
    assert "users:read" not in readme
