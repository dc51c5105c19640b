"""``ChannelStateRepository`` over SQLAlchemy Core: small values each channel keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from bot.adapters.db import tables as t

_c = t.channel_state.c
_KEY = (_c.channel == bindparam("where_channel")) & (_c.key == bindparam("where_key"))
GET = select(_c.value).where(_KEY)
PUT = update(t.channel_state).where(_KEY)  # value and updated_at as parameters
INSERT = insert(t.channel_state)
DELETE = delete(t.channel_state).where(_KEY)


class SqlChannelStateRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, channel: str, key: str) -> Any | None:
        row = self.conn.execute(GET, {"where_channel": channel, "where_key": key}).first()
        return row.value if row else None

    def put(self, channel: str, key: str, value: Any, at: datetime) -> None:
        where = {"where_channel": channel, "where_key": key}
        if self.conn.execute(PUT, {**where, "value": value, "updated_at": at}).rowcount == 0:
            row = {"channel": channel, "key": key, "value": value, "updated_at": at}
            self.conn.execute(INSERT, row)

    def delete(self, channel: str, key: str) -> bool:
        where = {"where_channel": channel, "where_key": key}
        return bool(self.conn.execute(DELETE, where).rowcount)
