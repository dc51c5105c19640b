"""The Slack channel: Block Kit messages with buttons, the reject modal, ``/approvals``.

Only ``SPEC`` is read before the settings ask for Slack; nothing of Bolt is loaded for it.
"""

from __future__ import annotations

from bot.adapters.plugin import ChannelSpec
from bot.adapters.slack.settings import SlackSettings
from bot.service.identity import IdentityKind

USER = IdentityKind("slack", "Slack user id", "Slack account", r"[UW][A-Z0-9]{2,}", "U01ALICE")
USERGROUP = IdentityKind(
    "slack_usergroup", "Slack user group id", "Slack user group", r"S[A-Z0-9]+", "S0123ABC"
)
TOKENS = (r"xox[abpr]-[A-Za-z0-9-]{10,}", r"xapp-[A-Za-z0-9-]{10,}")
SPEC = ChannelSpec(__name__, SlackSettings, USER, group_source=USERGROUP, secret_shapes=TOKENS)
