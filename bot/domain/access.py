"""Who may read requests in the chat channels and the console (docs/configuration.md,
``APPROVAL_BOT_READ_ACCESS``): the same rule for every channel.

- ``enrolled`` (the default): every person in the config;
- ``anyone``: anyone who can reach the bot's channels (a chat workspace, a group);
- ``group,group``: members of these groups only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import text

USAGE = "use enrolled, anyone, or a comma-separated list of groups (e.g. ml-leads,sre)"


@dataclass(frozen=True, slots=True)
class ReadAccess:
    anyone: bool = False
    groups: frozenset[str] = frozenset()  # empty: every enrolled person

    @classmethod
    def parse(cls, value: str) -> ReadAccess:
        value = value.strip()
        if value == "enrolled":
            return cls()
        if value == "anyone":
            return cls(anyone=True)
        groups = [g.strip() for g in value.split(",")]
        if not value or not all(groups) or any(text.problem(g, name=True) for g in groups):
            raise ValueError(f"{value!r} is not a read access: {USAGE}")
        return cls(groups=frozenset(groups))

    def allows(self, groups: frozenset[str]) -> bool:
        """May an enrolled person in ``groups`` read?"""
        return self.anyone or not self.groups or bool(self.groups & groups)

    def describe(self) -> str:
        if self.anyone:
            return "anyone"
        if self.groups:
            return "members of " + ", ".join(sorted(self.groups))
        return "enrolled people"
