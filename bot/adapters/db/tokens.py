"""``TokenRepository`` over SQLAlchemy Core: API tokens, stored as hashes."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from bot.adapters.db import tables as t
from bot.domain.tokens import ApiToken
from bot.ports.store import Tracker

_c = t.api_tokens.c


class SqlTokenRepository:
    def __init__(self, conn: Connection, seen: Tracker) -> None:
        self.conn = conn
        self.seen = seen

    def add(self, token: ApiToken) -> None:
        self.conn.execute(
            insert(t.api_tokens).values(
                name=token.name, token_hash=token.token_hash, created_at=token.created_at
            )
        )
        self.seen.track(token)

    def exists(self, name: str) -> bool:
        return self.conn.execute(select(_c.id).where(_c.name == name)).first() is not None

    def find(self, token_hash: str) -> str | None:
        row = self.conn.execute(
            select(_c.name).where(_c.token_hash == token_hash, _c.revoked_at.is_(None))
        ).first()
        return row.name if row else None
