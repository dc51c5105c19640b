"""API tokens: what each may do (scopes), until when, and as whom it may submit.

- ``submit``: ``POST /api/v1/approvals`` (the staging pipeline);
- ``read``: every ``GET`` of the API: requests, the audit, the outbox (the promotion
  pipeline's check reads its request);
- ``admin``: everything, retrying outbox effects (a KFP launch among them) too.

A token made before scopes existed has ``scopes`` unset in the database: it keeps working
as ``admin`` (``legacy``), and every use warns to replace it. A ``submit`` token made with
``requested_by`` names may submit only as one of them (compared NFKC-normalised); without
them any ``requested_by`` is accepted, and the audit records the token beside it either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.events import Event
from bot.domain.lookalike import normalise
from bot.domain.names import EventKind

BOOTSTRAP = "bootstrap"  # the name of APPROVAL_BOT_API_TOKEN, which is not stored


class Scope(StrEnum):
    SUBMIT = "submit"
    READ = "read"
    ADMIN = "admin"

    @classmethod
    def parse(cls, names: Iterable[str]) -> frozenset[Scope]:
        """Scopes from names (each may be a comma-separated list); ValueError naming a bad one."""
        out: set[Scope] = set()
        for part in (p.strip().lower() for n in names for p in n.split(",")):
            if not part:
                continue
            try:
                out.add(cls(part))
            except ValueError:
                raise ValueError(
                    f"unknown scope {part!r}: use {', '.join(s.value for s in cls)}"
                ) from None
        if not out:
            raise ValueError(f"give at least one scope: {', '.join(s.value for s in cls)}")
        return frozenset(out)


def shown(scopes: Iterable[Scope]) -> str:
    return ",".join(s.value for s in Scope if s in set(scopes))


@dataclass(frozen=True, slots=True)
class ApiToken:
    name: str
    scopes: frozenset[Scope]
    id: int | None = None  # None: the bootstrap token
    requested_by: tuple[str, ...] = ()  # the names it may submit as; () = any
    expires_at: datetime | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    legacy: bool = False  # made before scopes: acts as admin until replaced
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def subject(self) -> None:
        return None

    def issued(self, *, actor: str) -> None:
        """It was just made (``token_created``: what it may do, never the secret)."""
        data = {
            "name": self.name,
            "scopes": shown(self.scopes),
            "requested_by": list(self.requested_by),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
        self.events.append(Event(EventKind.TOKEN_CREATED, actor, data))

    def revoked_by(self, actor: str) -> None:
        self.events.append(Event(EventKind.TOKEN_REVOKED, actor, {"name": self.name}))

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def may_submit_as(self, requested_by: str) -> bool:
        return not self.requested_by or normalise(requested_by) in self.requested_by

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expired(now):
            return "expired"
        return "legacy: replace it" if self.legacy else "active"

    def audit(self) -> dict[str, Any]:
        """What the audit log records about the token that acted (never the secret)."""
        return {"token": self.name, "token_id": self.id}
