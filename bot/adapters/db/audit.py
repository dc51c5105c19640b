"""``AuditLog`` over SQLAlchemy Core: the hash chain and its one-row head."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.mapping import audit_from_row
from bot.domain.audit import GENESIS, AuditRecord, canonical_json, chain_hash
from bot.domain.model import Event


class SqlAuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def _lock_head(self) -> tuple[int, str]:
        q = select(t.audit_head).where(t.audit_head.c.id == 1)
        if self._locking:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        if row is None:
            # First event ever. Two first writers race on the primary key; the
            # loser's transaction fails and is retried by the caller.
            self.conn.execute(insert(t.audit_head).values(id=1, seq=0, hash=GENESIS))
            return 0, GENESIS
        return row.seq, row.hash

    def append(self, request_id: str | None, events: Sequence[Event], at: datetime) -> list[int]:
        if not events:
            return []
        at = at.astimezone(UTC)
        seq, prev = self._lock_head()
        seqs = []
        for ev in events:
            seq += 1
            # Hash exactly what the database will give back: JSON-native data.
            data = json.loads(canonical_json(ev.data))
            rec = AuditRecord(seq, at, str(ev.kind), ev.actor, request_id, data, prev, "")
            digest = chain_hash(prev, rec.body())
            self.conn.execute(
                insert(t.audit_events).values(
                    seq=seq,
                    at=at,
                    kind=str(ev.kind),
                    actor=ev.actor,
                    request_id=request_id,
                    data=data,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
            seqs.append(seq)
        self.conn.execute(
            update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=seq, hash=prev)
        )
        return seqs

    def records(
        self, request_id: str | None = None, request_ids: Sequence[str] | None = None
    ) -> list[AuditRecord]:
        q = select(t.audit_events).order_by(t.audit_events.c.seq)
        if request_id is not None:
            q = q.where(t.audit_events.c.request_id == request_id)
        if request_ids is not None:
            q = q.where(t.audit_events.c.request_id.in_(request_ids))
        return [audit_from_row(r) for r in self.conn.execute(q)]

    def head(self) -> tuple[int, str] | None:
        row = self.conn.execute(select(t.audit_head).where(t.audit_head.c.id == 1)).first()
        return (row.seq, row.hash) if row else None
