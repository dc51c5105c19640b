"""``RefusalLog`` over SQLAlchemy Core: refusals counted beside the audit log
(``bot/service/refusals.py`` decides what is written and what is only counted; the audit log
indexes each `denied` event it writes, ``db/audit.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, func, insert, select, text, update

from bot.adapters.db import tables as t

R = t.audit_refusals
SINCE = R.c.window_start >= bindparam("since")

# Prebuilt (see ``bot/adapters/db/engine.py``).
REPEAT = (
    update(R)
    .where(
        and_(
            R.c.request_id == bindparam("rid"),
            R.c.actor == bindparam("who"),
            R.c.why == bindparam("reason"),
            SINCE,
        )
    )
    .values(count=R.c.count + 1, last_at=bindparam("at_"))
)
WRITTEN = select(func.count()).where(
    and_(R.c.actor == bindparam("who"), R.c.request_id.is_not(None), SINCE)
)
KEPT_OUT = (
    update(R)
    .where(and_(R.c.actor == bindparam("who"), R.c.request_id.is_(None), SINCE))
    .values(count=R.c.count + 1, last_at=bindparam("at_"))
    .returning(R.c.count)
)
ADD = insert(R)
# PostgreSQL: one identity's refusals are counted one transaction at a time, so its cap holds
# also when it is refused on several requests at once (SQLite: BEGIN IMMEDIATE already does).
LOCK_ACTOR = text("SELECT pg_advisory_xact_lock(hashtextextended('refusals:' || :who, 0))")


class SqlRefusalLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def repeat(
        self, request_id: str, actor: str, why: str, *, since: datetime, at: datetime
    ) -> bool:
        params = {"rid": request_id, "who": actor, "reason": why, "since": since, "at_": at}
        return self.conn.execute(REPEAT, params).rowcount > 0

    def written(self, actor: str, *, since: datetime) -> int:
        if self._locking:
            self.conn.execute(LOCK_ACTOR, {"who": actor})
        return int(self.conn.execute(WRITTEN, {"who": actor, "since": since}).scalar_one())

    def kept_out(self, actor: str, *, since: datetime, at: datetime) -> int:
        count = self.conn.execute(KEPT_OUT, {"who": actor, "since": since, "at_": at}).scalar()
        if count is not None:
            return int(count)
        capped = {"request_id": None, "actor": actor, "why": "capped", "count": 1, "seq": None}
        self.conn.execute(ADD, [capped | {"window_start": at, "last_at": at}])
        return 1
