"""People, the channel identities they are known by, and the groups they are in.

Which kinds of identity exist is not the domain's to say: each channel declares its own
(``bot/service/identity.py``). A person carries their identities as (kind, value) pairs,
each value in its kind's canonical form; the configured name is the identity of kind
``name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NAME = "name"  # the identity kind of the configured person name (the CLI, the API)


def _pairs(values: Mapping[str, str | int | None]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in values.items() if v is not None))


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    ids: tuple[tuple[str, str], ...] = ()  # (kind, canonical value), sorted

    @classmethod
    def of(cls, name: str, **ids: str | int | None) -> Person:
        """``Person.of("alice", chat="U01ALICE")``: identities by kind."""
        return cls(name, _pairs(ids))

    def identity(self, kind: str) -> str | None:
        """This person's id of ``kind`` (canonical form), or None."""
        if kind == NAME:
            return self.name
        return next((v for k, v in self.ids if k == kind), None)

    def answers_to(self, who: str) -> bool:
        """Is ``who`` (a name, email or channel id, any case) this person?"""
        w = who.strip().lower()
        return self.name.lower() == w or any(v.lower() == w for _k, v in self.ids)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    members: frozenset[str] = frozenset()
    # Where else its members come from, by the key a channel declares (e.g. the id of one
    # of its user groups): that channel vouches for its members.
    sources: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, name: str, members: frozenset[str] = frozenset(), **sources: str | None) -> Group:
        return cls(name, members, _pairs(sources))

    def source(self, key: str) -> str | None:
        return next((v for k, v in self.sources if k == key), None)
