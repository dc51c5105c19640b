"""The web console: the embedded default channel, where people read requests and vote in the
browser, identified by email. Requests are shown here when no chat is configured; nothing is
posted to it (``messages=False``)."""

from __future__ import annotations

from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.plugin import ChannelSpec
from bot.service.identity import IdentityKind

EMAIL = r"[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+"
BY_EMAIL = IdentityKind("email", "email", "account", EMAIL, "alice@example.com", lowercase=True)
SPEC = ChannelSpec(__name__, ConsoleSettings, BY_EMAIL, messages=False)
