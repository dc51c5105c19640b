"""``SendScheduleRepository`` over SQLAlchemy Core: each chat's write schedule, shared by
the replicas (``bot/service/pacing.py``). ``lock`` creates the missing rows (ignoring a
concurrent creation), then reads them locked: ``FOR UPDATE`` on PostgreSQL, and on SQLite
the write lock every write transaction takes at BEGIN (``engine.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, bindparam, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.engine import insert_ignoring_duplicates
from bot.domain.pacing import Lane

_c = t.send_schedule.c
ROWS = select(_c.key, _c.tat, _c.blocked_until).where(_c.key.in_(bindparam("keys", expanding=True)))
ROWS_LOCKED = ROWS.order_by(_c.key).with_for_update()
CREATE = insert_ignoring_duplicates(t.send_schedule, ("key", "tat", "blocked_until"))
SAVE = update(t.send_schedule).where(_c.key == bindparam("where_key"))
HELD = select(_c.blocked_until).where(_c.key == bindparam("where_key"))


class SqlSendScheduleRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def _read(self, keys: Sequence[str]) -> dict[str, Lane]:
        q = ROWS_LOCKED if self._locking else ROWS
        rows = self.conn.execute(q, {"keys": list(keys)}).all()
        return {r.key: Lane(float(r.tat), float(r.blocked_until)) for r in rows}

    def lock(self, keys: Sequence[str]) -> dict[str, Lane]:
        lanes = self._read(keys)
        missing = [k for k in keys if k not in lanes]
        if missing:
            rows = [{"key": k, "tat": 0.0, "blocked_until": 0.0} for k in sorted(missing)]
            self.conn.execute(CREATE, rows)
            lanes = self._read(keys)
        return lanes

    def save(self, lanes: Mapping[str, Lane]) -> None:
        rows = [
            {"where_key": k, "tat": lane.tat, "blocked_until": lane.held_until}
            for k, lane in sorted(lanes.items())
        ]
        if rows:
            self.conn.execute(SAVE, rows)

    def held_until(self, key: str) -> float:
        row = self.conn.execute(HELD, {"where_key": key}).first()
        return float(row.blocked_until) if row else 0.0
