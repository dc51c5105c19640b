"""People, the channel identities they are known by, and the groups they are in."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.names import IdentityKind


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    slack: str | None = None
    telegram: int | None = None
    email: str | None = None

    def identity(self, kind: IdentityKind) -> str | None:
        """This person's id in the form ``kind.normalise`` gives."""
        if kind is IdentityKind.NAME:
            return self.name
        if kind is IdentityKind.SLACK:
            return self.slack
        if kind is IdentityKind.TELEGRAM:
            return str(self.telegram) if self.telegram is not None else None
        return self.email.lower() if self.email else None

    def identified_by(self, kind: IdentityKind, value: str) -> bool:
        wanted = kind.normalise(value)
        return wanted is not None and self.identity(kind) == wanted

    def answers_to(self, who: str) -> bool:
        """Is ``who`` (a name, email or channel id, any case) this person?"""
        w = who.strip().lower()
        return any(
            (mine := self.identity(kind)) is not None and mine.lower() == w for kind in IdentityKind
        )


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    members: frozenset[str] = frozenset()
    slack_usergroup: str | None = None
