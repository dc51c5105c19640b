"""``AuditLog`` over SQLAlchemy Core: the hash chain, signed with the audit key when one is
set; its one-row head; the last check of it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.engine import insert_ignoring_duplicates
from bot.adapters.db.mapping import audit_from_row
from bot.domain.audit import (
    GENESIS,
    AuditCheck,
    AuditHead,
    AuditRecord,
    ChainProblem,
    Checkpoint,
    canonical_json,
    chain_hash,
)
from bot.domain.audit_keys import AuditKeyMissing, Keyring, head_mac, record_mac
from bot.domain.events import Event
from bot.domain.names import EventKind

STREAM_BATCH = 5000  # rows per fetch when walking the whole chain

# Prebuilt (see ``bot/adapters/db/engine.py``).
HEAD = select(t.audit_head).where(t.audit_head.c.id == 1)
HEAD_LOCKED = HEAD.with_for_update()
INSERT_EVENTS = insert(t.audit_events)
MOVE_HEAD = update(t.audit_head).where(t.audit_head.c.id == 1)  # values as parameters
REPEATS = select(t.audit_refusals.c.seq, t.audit_refusals.c.count).where(
    t.audit_refusals.c.seq.in_(bindparam("seqs", expanding=True))
)
LAST_CHECK = select(t.audit_checks).where(t.audit_checks.c.id == 1)
FIRST_CHECK = insert_ignoring_duplicates(
    t.audit_checks,
    (
        "id",
        "seq",
        "hash",
        "signed_from",
        "head_seq",
        "signatures",
        "checked_at",
        "full_at",
        "problem_seq",
        "problem",
    ),
)
# A `denied` event written starts its refusal's window (bot/service/refusals.py).
INDEX_REFUSALS = insert(t.audit_refusals)
SAVE_CHECK = update(t.audit_checks).where(t.audit_checks.c.id == 1)


class SqlAuditLog:
    def __init__(self, conn: Connection, keys: Keyring | None = None) -> None:
        self.conn = conn
        self.keys = keys or Keyring()
        self._locking = conn.dialect.name == "postgresql"

    def _lock_head(self) -> AuditHead:
        row = self.conn.execute(HEAD_LOCKED if self._locking else HEAD).first()
        if row is None:
            # First event ever. Two first writers race on the primary key; the
            # loser's transaction fails and is retried by the caller.
            self.conn.execute(insert(t.audit_head).values(id=1, seq=0, hash=GENESIS))
            return AuditHead(0, GENESIS)
        return _head(row)

    def append_all(self, entries: Sequence[tuple[str | None, Event]], at: datetime) -> list[int]:
        if not entries:
            return []
        at = at.astimezone(UTC)
        head = self._lock_head()
        key = self.keys.current
        if key is None and head.signed_from is not None:
            raise AuditKeyMissing(head.signed_from)  # nothing unsigned after a signed event
        seq, prev = head.seq, head.hash
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
                    "key_id": key.id if key else None,
                    "mac": record_mac(key, digest) if key else None,
                }
            )
            prev = digest
        self.conn.execute(INSERT_EVENTS, rows)  # one statement for all of them
        signed_from = head.signed_from or (rows[0]["seq"] if key else None)
        self.conn.execute(
            MOVE_HEAD,
            {
                "seq": seq,
                "hash": prev,
                "key_id": key.id if key else None,
                "mac": head_mac(key, seq, prev, signed_from) if key else None,
                "signed_from": signed_from,
            },
        )
        refused = [_refusal(row) for row in rows if row["kind"] == EventKind.DENIED]
        if refused:
            self.conn.execute(INDEX_REFUSALS, refused)
        return [row["seq"] for row in rows]

    def records(
        self, request_id: str | None = None, request_ids: Sequence[str] | None = None
    ) -> list[AuditRecord]:
        q = select(t.audit_events).order_by(t.audit_events.c.seq)
        if request_id is not None:
            q = q.where(t.audit_events.c.request_id == request_id)
        if request_ids is not None:
            q = q.where(t.audit_events.c.request_id.in_(request_ids))
        out = [audit_from_row(r) for r in self.conn.execute(q).all()]
        denied = [r.seq for r in out if r.kind == EventKind.DENIED]
        if not denied:
            return out
        repeats = dict(self.conn.execute(REPEATS, {"seqs": denied}).tuples().all())
        return [replace(r, repeats=repeats[r.seq]) if repeats.get(r.seq, 1) > 1 else r for r in out]

    def chain(self, from_seq: int = 1) -> tuple[AuditHead | None, Iterator[AuditRecord]]:
        if not self._locking:  # SQLite: its transaction is the snapshot
            rows = self.conn.execution_options(yield_per=STREAM_BATCH).execute(
                select(t.audit_events)
                .where(t.audit_events.c.seq >= from_seq)
                .order_by(t.audit_events.c.seq)
            )
            return self.head(), (audit_from_row(r) for r in rows)
        # PostgreSQL: one snapshot for the head and the records, walked with a server-side
        # cursor straight from the driver (a million rows through the ORM layer's row
        # processing would take several times as long).
        self.conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        self.conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        head = self.head()
        return head, self._stream_pg(from_seq)

    def _stream_pg(self, from_seq: int) -> Iterator[AuditRecord]:
        driver = self.conn.connection.driver_connection
        assert driver is not None
        with driver.cursor(name="audit_chain") as cur:
            cur.itersize = STREAM_BATCH
            cur.execute(
                "SELECT seq, at, kind, actor, request_id, data::text, prev_hash, hash, key_id, "
                "mac FROM audit_events WHERE seq >= %s ORDER BY seq",
                (from_seq,),
            )
            for seq, at, kind, actor, request_id, data, prev_hash, digest, key_id, mac in cur:
                yield AuditRecord(
                    seq,
                    at,
                    kind,
                    actor,
                    request_id,
                    json.loads(data),
                    prev_hash,
                    digest,
                    key_id,
                    mac,
                )

    def head(self) -> AuditHead | None:
        row = self.conn.execute(HEAD).first()
        return _head(row) if row else None

    # -- the last check ------------------------------------------------------------------

    def last_check(self) -> AuditCheck | None:
        row = self.conn.execute(LAST_CHECK).first()
        if row is None:
            return None
        problem = ChainProblem(row.problem_seq, row.problem) if row.problem else None
        return AuditCheck(
            checked_at=row.checked_at,
            last=Checkpoint(row.seq, row.hash, row.signed_from),
            head_seq=row.head_seq,
            signatures=row.signatures,
            full_at=row.full_at,
            problem=problem,
        )

    def save_check(self, check: AuditCheck) -> None:
        values: dict[str, Any] = {
            "seq": check.last.seq,
            "hash": check.last.hash,
            "signed_from": check.last.signed_from,
            "head_seq": check.head_seq,
            "signatures": check.signatures,
            "checked_at": check.checked_at,
            "full_at": check.full_at,
            "problem_seq": check.problem.seq if check.problem else None,
            "problem": check.problem.message if check.problem else None,
        }
        if self.conn.execute(SAVE_CHECK, values).rowcount == 0:
            # The first check: a concurrent first one may win the insert; either will do.
            self.conn.execute(FIRST_CHECK, [values | {"id": 1}])


def _refusal(row: dict[str, Any]) -> dict[str, Any]:
    """The refusals index row of a `denied` event: its window starts now."""
    return {
        "request_id": row["request_id"],
        "actor": row["actor"],
        "why": row["data"].get("why", ""),
        "window_start": row["at"],
        "last_at": row["at"],
        "count": 1,
        "seq": row["seq"],
    }


def _head(row: Any) -> AuditHead:
    return AuditHead(row.seq, row.hash, row.key_id, row.mac, row.signed_from)
