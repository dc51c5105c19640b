"""Events: what happened, raised by the domain objects it happened to.

Every object that changes something worth keeping raises events into its ``events`` list
(an ``Aggregate``): the approval request, a delivery's outcome, the directory a config
replaced, a new API token. The unit of work collects them from everything its repositories
handed out or took in, and at commit writes them to the audit log, with the effects they
cause in the outbox (``bot/service/unit_of_work.py``). Nothing writes the audit log by hand.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain.names import EventKind


def new_event_id() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, for the audit log.

    ``id`` names it before the log numbers it: the keys of the effects it causes use it, so
    they can be written before the (serialising) append to the hash chain.
    """

    kind: EventKind
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_event_id, compare=False)


class Aggregate(Protocol):
    """A domain object that raises events; ``subject`` is the request they concern."""

    events: list[Event]

    @property
    def subject(self) -> str | None: ...
