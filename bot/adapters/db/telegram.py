"""``TelegramStateRepository`` over SQLAlchemy Core: small values the Telegram channel keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from bot.adapters.db import tables as t

_c = t.telegram_state.c


class SqlTelegramStateRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> Any | None:
        row = self.conn.execute(select(_c.value).where(_c.key == key)).first()
        return row.value if row else None

    def put(self, key: str, value: Any, at: datetime) -> None:
        res = self.conn.execute(
            update(t.telegram_state).where(_c.key == key).values(value=value, updated_at=at)
        )
        if res.rowcount == 0:
            self.conn.execute(insert(t.telegram_state).values(key=key, value=value, updated_at=at))

    def delete(self, key: str) -> bool:
        return bool(self.conn.execute(delete(t.telegram_state).where(_c.key == key)).rowcount)
