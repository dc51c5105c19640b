"""``ChannelStateRepository`` over SQLAlchemy Core: small values each channel keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.engine import insert_ignoring_duplicates

_c = t.channel_state.c
_KEY = (_c.channel == bindparam("where_channel")) & (_c.key == bindparam("where_key"))
GET = select(_c.value).where(_KEY)
PUT = update(t.channel_state).where(_KEY)  # value and updated_at as parameters
INSERT = insert(t.channel_state)
DELETE = delete(t.channel_state).where(_KEY)
_s = t.seen_updates.c
SEE = insert_ignoring_duplicates(t.seen_updates, ("channel", "update_key", "seen_at"))
UNSEE = delete(t.seen_updates).where(
    _s.channel == bindparam("where_channel"), _s.update_key == bindparam("where_key")
)
FORGET = delete(t.seen_updates).where(
    _s.channel == bindparam("where_channel"), _s.seen_at < bindparam("before")
)


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

    def first_seen(self, channel: str, update: str, at: datetime) -> bool:
        row = {"channel": channel, "update_key": update, "seen_at": at}
        return bool(self.conn.execute(SEE, row).rowcount)

    def unsee(self, channel: str, update: str) -> None:
        self.conn.execute(UNSEE, {"where_channel": channel, "where_key": update})

    def forget_seen(self, channel: str, before: datetime) -> int:
        return int(self.conn.execute(FORGET, {"where_channel": channel, "before": before}).rowcount)
