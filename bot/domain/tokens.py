"""API tokens: who may call the HTTP API. Only a token's hash is ever stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.events import Event
from bot.domain.names import EventKind


@dataclass(slots=True)
class ApiToken:
    name: str
    token_hash: str
    created_at: datetime
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def subject(self) -> None:
        return None

    @classmethod
    def issue(cls, name: str, token_hash: str, *, at: datetime, actor: str) -> ApiToken:
        token = cls(name, token_hash, at)
        token.events.append(Event(EventKind.TOKEN_CREATED, actor, {"name": name}))
        return token
