"""Who is acting, as a channel knows them; and the kinds of identity the channels declare.

A channel says how it identifies people (``IdentityKind``: a chat's user ids, emails at the
console): the config's people carry identities of those kinds (``people.alice.<kind>:
<value>``), and a click is looked up by its kind and the channel's
id for the person, never by a display name. The CLI and the API name people by their
configured name (kind ``name``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.domain import text
from bot.domain.names import Channel
from bot.domain.people import NAME


@dataclass(frozen=True, slots=True)
class IdentityKind:
    """How one channel names a person: ``name`` is its key in the config's people."""

    name: str
    label: str  # "… user id", as errors name a value
    account: str  # "… account", as a refusal names it
    pattern: str  # what a value looks like (config and clicks), a regular expression
    example: str  # shown when a value does not look right
    lowercase: bool = False  # compared without case (emails)
    max_value: int | None = None  # a numeric id's largest, where the platform bounds it
    # Values that look like ids but are nobody's (a platform's stand-ins): value -> what it is
    reserved: tuple[tuple[str, str], ...] = ()

    def canonical(self, value: object) -> str | None:
        """The value as stored and looked up; None when it cannot be one of this kind."""
        found = str(value).strip()
        if self.lowercase:
            found = found.lower()
        if not found or len(found) > 320 or not re.fullmatch(self.pattern, found):
            return None
        if self.max_value is not None and int(found) > self.max_value:
            return None
        return found

    def stand_in(self, value: str) -> str | None:
        """What ``value`` stands for when it is a platform's stand-in, not a person."""
        return dict(self.reserved).get(value)


NAME_KIND = IdentityKind(NAME, "name", "name", r"[^\x00-\x1f\x7f-\x9f]+", "alice")


class IdentityKinds:
    """The kinds the registered channels declare, which channel uses which, and the group
    sources they declare (e.g. a chat's user groups, under the key it names; a source is
    described like an identity kind: its key, what a value looks like)."""

    def __init__(
        self,
        kinds: Mapping[str, IdentityKind] | None = None,
        sources: Iterable[IdentityKind] = (),
    ) -> None:
        # channel -> kind; the CLI and the API name people by name.
        self._of: dict[str, IdentityKind] = {Channel.CLI: NAME_KIND, Channel.API: NAME_KIND}
        self._of.update(kinds or {})
        self.sources = {s.name: s for s in sources}

    def of(self, channel: str) -> IdentityKind:
        return self._of.get(channel, NAME_KIND)

    def declared(self) -> dict[str, IdentityKind]:
        """The kinds a person's identities may be of (by config key); not ``name``."""
        return {k.name: k for k in self._of.values() if k.name != NAME}

    def channels(self) -> Iterable[str]:
        return self._of.keys()


@dataclass(frozen=True, slots=True)
class Identity:
    """A channel and that channel's id for the person (its ``IdentityKind``'s value).

    ``cli`` and ``api`` identify by configured person name; a chat channel by its own id.
    """

    channel: str
    value: str

    def is_plain(self) -> bool:
        """Could this be anyone's id? (No control characters: nobody's id has them.)"""
        return text.is_plain(self.value)

    def describe(self) -> str:
        return f"{self.channel} user {self._shown()}"

    def _shown(self) -> str:
        return self.value if self.is_plain() else repr(self.value)

    def label(self) -> str:
        """How an error names this identity: a name as is, a channel id with its channel."""
        return self._shown() if self.channel in (Channel.CLI, Channel.API) else self.describe()
