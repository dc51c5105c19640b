"""``AuditLog`` over SQLAlchemy Core: the hash chain and its one-row head."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.mapping import audit_from_row
from bot.domain.audit import GENESIS, AuditRecord, canonical_json, chain_hash
from bot.domain.events import Event

STREAM_BATCH = 5000  # rows per fetch when walking the whole chain

# Prebuilt (see ``bot/adapters/db/engine.py``).
HEAD = select(t.audit_head).where(t.audit_head.c.id == 1)
HEAD_LOCKED = HEAD.with_for_update()
INSERT_EVENTS = insert(t.audit_events)
MOVE_HEAD = update(t.audit_head).where(t.audit_head.c.id == 1)  # seq and hash as parameters


class SqlAuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def _lock_head(self) -> tuple[int, str]:
        row = self.conn.execute(HEAD_LOCKED if self._locking else HEAD).first()
        if row is None:
            # First event ever. Two first writers race on the primary key; the
            # loser's transaction fails and is retried by the caller.
            self.conn.execute(insert(t.audit_head).values(id=1, seq=0, hash=GENESIS))
            return 0, GENESIS
        return row.seq, row.hash

    def append_all(self, entries: Sequence[tuple[str | None, Event]], at: datetime) -> list[int]:
        if not entries:
            return []
        at = at.astimezone(UTC)
        seq, prev = self._lock_head()
        rows = []
        for request_id, ev in entries:
            seq += 1
            # Hash exactly what the database will give back: JSON-native data.
            data = json.loads(canonical_json(ev.data))
            rec = AuditRecord(seq, at, str(ev.kind), ev.actor, request_id, data, prev, "")
            digest = chain_hash(prev, rec.body())
            rows.append(
                {
                    "seq": seq,
                    "at": at,
                    "kind": str(ev.kind),
                    "actor": ev.actor,
                    "request_id": request_id,
                    "data": data,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        self.conn.execute(INSERT_EVENTS, rows)  # one statement for all of them
        self.conn.execute(MOVE_HEAD, {"seq": seq, "hash": prev})
        return [row["seq"] for row in rows]

    def records(
        self, request_id: str | None = None, request_ids: Sequence[str] | None = None
    ) -> list[AuditRecord]:
        q = select(t.audit_events).order_by(t.audit_events.c.seq)
        if request_id is not None:
            q = q.where(t.audit_events.c.request_id == request_id)
        if request_ids is not None:
            q = q.where(t.audit_events.c.request_id.in_(request_ids))
        return [audit_from_row(r) for r in self.conn.execute(q).all()]

    def chain(self) -> tuple[tuple[int, str] | None, Iterator[AuditRecord]]:
        if not self._locking:  # SQLite: its transaction is the snapshot
            rows = self.conn.execution_options(yield_per=STREAM_BATCH).execute(
                select(t.audit_events).order_by(t.audit_events.c.seq)
            )
            return self.head(), (audit_from_row(r) for r in rows)
        # PostgreSQL: one snapshot for the head and the records, walked with a server-side
        # cursor straight from the driver (a million rows through the ORM layer's row
        # processing would take several times as long).
        self.conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        self.conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        head = self.head()
        return head, self._stream_pg()

    def _stream_pg(self) -> Iterator[AuditRecord]:
        driver = self.conn.connection.driver_connection
        assert driver is not None
        with driver.cursor(name="audit_chain") as cur:
            cur.itersize = STREAM_BATCH
            cur.execute(
                "SELECT seq, at, kind, actor, request_id, data::text, prev_hash, hash "
                "FROM audit_events ORDER BY seq"
            )
            for seq, at, kind, actor, request_id, data, prev_hash, digest in cur:
                yield AuditRecord(
                    seq, at, kind, actor, request_id, json.loads(data), prev_hash, digest
                )

    def head(self) -> tuple[int, str] | None:
        row = self.conn.execute(HEAD).first()
        return (row.seq, row.hash) if row else None
