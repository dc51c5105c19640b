"""Who is acting, as a channel knows them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import text
from bot.domain.names import IdentityKind


@dataclass(frozen=True, slots=True)
class Identity:
    """A channel and that channel's id for the person (``IdentityKind.of`` the channel).

    ``cli`` and ``api`` identify by configured person name; ``slack`` by Slack user
    id; ``telegram`` by Telegram user id; ``console`` by email.
    """

    channel: str
    value: str

    @property
    def kind(self) -> IdentityKind:
        return IdentityKind.of(self.channel)

    def is_plain(self) -> bool:
        """Could this be anyone's id? (No control characters: nobody's id has them.)"""
        return text.is_plain(self.value)

    def describe(self) -> str:
        return f"{self.channel} user {self._shown()}"

    def _shown(self) -> str:
        return self.value if self.is_plain() else repr(self.value)

    def label(self) -> str:
        """How an error names this identity: a name as is, a channel id with its channel."""
        return self._shown() if self.kind is IdentityKind.NAME else self.describe()
