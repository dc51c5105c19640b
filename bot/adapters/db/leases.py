"""``LeaseRepository`` over SQLAlchemy Core: a named lease is taken with one upsert that
only writes when the lease is free, expired or already the taker's (a renewal), so two
replicas racing for it cannot both win (``bot/service/leases.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, delete, select, text

from bot.adapters.db import tables as t

L = t.leases
_NOW = bindparam("now", type_=t.UtcDateTime)

# Prebuilt (see ``bot/adapters/db/engine.py``), as text: SQLite and PostgreSQL spell the
# conditional upsert alike, and a text statement is cached where the dialects' ON CONFLICT
# constructs are not. It writes (rowcount 1) only when the lease is free, expired or the
# taker's own.
TAKE = text(
    'INSERT INTO "leases" ("name", "holder", "expires_at") VALUES (:name, :holder, :until) '
    'ON CONFLICT ("name") DO UPDATE SET "holder" = excluded."holder", '
    '"expires_at" = excluded."expires_at" '
    'WHERE "leases"."holder" = excluded."holder" OR "leases"."expires_at" <= :now'
).bindparams(
    bindparam("name", type_=L.c.name.type),
    bindparam("holder", type_=L.c.holder.type),
    bindparam("until", type_=t.UtcDateTime),
    _NOW,
)
GIVE_UP = delete(L).where(and_(L.c.name == bindparam("lease"), L.c.holder == bindparam("who")))
HOLDER = select(L.c.holder).where(and_(L.c.name == bindparam("lease"), L.c.expires_at > _NOW))


class SqlLeaseRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def take(self, name: str, holder: str, *, until: datetime, now: datetime) -> bool:
        row = {"name": name, "holder": holder, "until": until, "now": now}
        return self.conn.execute(TAKE, row).rowcount == 1

    def give_up(self, name: str, holder: str) -> None:
        self.conn.execute(GIVE_UP, {"lease": name, "who": holder})

    def holder(self, name: str, *, now: datetime) -> str | None:
        row = self.conn.execute(HOLDER, {"lease": name, "now": now}).first()
        return row.holder if row else None
