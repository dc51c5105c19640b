"""``ChatMessageRepository`` over SQLAlchemy Core: where each channel shows a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from bot.adapters.db import tables as t

_c = t.chat_messages.c


class SqlChatMessageRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            select(_c.ref).where(_c.request_id == request_id, _c.channel == channel)
        ).first()
        return dict(row.ref) if row else None

    def put(self, request_id: str, channel: str, ref: dict[str, Any], at: datetime) -> None:
        res = self.conn.execute(
            update(t.chat_messages)
            .where(_c.request_id == request_id, _c.channel == channel)
            .values(ref=ref, updated_at=at)
        )
        if res.rowcount == 0:
            self.conn.execute(
                insert(t.chat_messages).values(
                    request_id=request_id, channel=channel, ref=ref, updated_at=at
                )
            )
