"""The directory: people, groups and policies, as the declarative config sets them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.events import Event
from bot.domain.names import EventKind
from bot.domain.people import Group, Person
from bot.domain.policy import Policy


@dataclass(frozen=True, slots=True)
class Directory:
    people: tuple[Person, ...]
    groups: tuple[Group, ...]
    policies: tuple[Policy, ...]
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def subject(self) -> None:
        return None

    def applied(self, changes: list[str], *, actor: str) -> None:
        """This directory replaced the stored one, with ``changes`` (``config_applied``)."""
        self.events.append(Event(EventKind.CONFIG_APPLIED, actor, {"changes": changes}))
