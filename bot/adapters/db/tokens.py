"""``TokenRepository`` over SQLAlchemy Core: API tokens, stored as hashes, with their scopes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from bot.adapters.db import tables as t
from bot.domain.tokens import ApiToken, Scope
from bot.ports.store import Tracker

_c = t.api_tokens.c
_COLUMNS = (
    _c.id,
    _c.name,
    _c.scopes,
    _c.requested_by,
    _c.expires_at,
    _c.created_at,
    _c.revoked_at,
)


def _token(row: Any) -> ApiToken:
    legacy = row.scopes is None
    return ApiToken(
        name=row.name,
        scopes=frozenset({Scope.ADMIN}) if legacy else Scope.parse([row.scopes]),
        id=row.id,
        requested_by=tuple(row.requested_by or ()),
        expires_at=row.expires_at,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        legacy=legacy,
    )


class SqlTokenRepository:
    """A token it adds or revokes is tracked: its events are recorded at commit."""

    def __init__(self, conn: Connection, seen: Tracker) -> None:
        self.conn = conn
        self.seen = seen

    def add(self, token: ApiToken, token_hash: str) -> None:
        self.conn.execute(
            insert(t.api_tokens).values(
                name=token.name,
                token_hash=token_hash,
                created_at=token.created_at,
                scopes=",".join(sorted(token.scopes)),
                requested_by=list(token.requested_by) or None,
                expires_at=token.expires_at,
            )
        )
        self.seen.track(token)

    def exists(self, name: str) -> bool:
        return self.conn.execute(select(_c.id).where(_c.name == name)).first() is not None

    def find(self, token_hash: str) -> ApiToken | None:
        row = self.conn.execute(
            select(*_COLUMNS).where(_c.token_hash == token_hash, _c.revoked_at.is_(None))
        ).first()
        return _token(row) if row else None

    def listed(self) -> list[ApiToken]:
        return [_token(r) for r in self.conn.execute(select(*_COLUMNS).order_by(_c.id))]

    def revoke(self, name: str, at: datetime) -> ApiToken | None:
        """Revoke the active token ``name``; it, revoked, or None when there is none."""
        row = self.conn.execute(
            select(*_COLUMNS).where(_c.name == name, _c.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        self.conn.execute(update(t.api_tokens).where(_c.id == row.id).values(revoked_at=at))
        token = replace(_token(row), revoked_at=at)
        self.seen.track(token)
        return token
