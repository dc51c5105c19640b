"""``Outbox`` over SQLAlchemy Core: rows of effects, claimed with a lease."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Update, and_, bindparam, func, or_, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.engine import insert_ignoring_duplicates
from bot.adapters.db.mapping import outbox_from_row
from bot.domain.effects import Effect
from bot.domain.names import OutboxState
from bot.domain.outbox import DeliveryOutcome, OutboxItem, Retry
from bot.ports.store import Tracker

_c = t.outbox.c

# Prebuilt (see ``bot/adapters/db/engine.py``).
ADD = insert_ignoring_duplicates(
    t.outbox,
    (
        "kind",
        "idempotency_key",
        "request_id",
        "payload",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
    ),
)
GET = select(t.outbox).where(_c.id == bindparam("item_id"))
FOR_REQUESTS = (
    select(t.outbox).where(_c.request_id.in_(bindparam("ids", expanding=True))).order_by(_c.id)
)
CLAIMED = (
    select(t.outbox)
    .where(_c.id.in_(bindparam("ids", expanding=True)), _c.claim_token == bindparam("token"))
    .order_by(_c.id)
)
# The outcome's values come as parameters named after their columns.
FINISH = update(t.outbox).where(
    _c.id == bindparam("where_id"),
    _c.claim_token == bindparam("where_token"),
    _c.state == OutboxState.DELIVERING.value,
)
# Waiting for its system, or asked to wait: the attempt is given back.
PARK = FINISH.values(attempts=_c.attempts - 1)


@functools.cache
def claiming(of_kinds: bool, skip_locked: bool, limit: int) -> tuple[Select[Any], Update]:
    """The due rows' ids, and the update that claims them (parameters: ``now``, ``kinds``
    when ``of_kinds``, then ``ids``, ``token``, ``new_lease``)."""
    due = or_(
        and_(_c.state == OutboxState.PENDING.value, _c.next_attempt_at <= bindparam("now")),
        and_(_c.state == OutboxState.DELIVERING.value, _c.lease_until < bindparam("now")),
    )
    if of_kinds:
        due = and_(due, _c.kind.in_(bindparam("kinds", expanding=True)))
    ids = select(_c.id).where(due).order_by(_c.id).limit(limit)
    if skip_locked:
        ids = ids.with_for_update(skip_locked=True)
    take = (
        update(t.outbox)
        .where(_c.id.in_(bindparam("ids", expanding=True)), due)
        .values(
            state=OutboxState.DELIVERING.value,
            claim_token=bindparam("token"),
            lease_until=bindparam("new_lease"),
            attempts=_c.attempts + 1,
        )
    )
    return ids, take


class SqlOutbox:
    def __init__(self, conn: Connection, seen: Tracker) -> None:
        self.conn = conn
        self.seen = seen
        self._locking = conn.dialect.name == "postgresql"

    def add(self, effects: Sequence[Effect], at: datetime) -> None:
        """One statement for all of them; a key already there is left as it is."""
        if not effects:
            return
        rows = [
            {
                "kind": str(eff.kind),
                "idempotency_key": eff.key,
                "request_id": eff.request_id,
                "payload": eff.payload,
                "state": OutboxState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for eff in effects
        ]
        self.conn.execute(ADD, rows)

    def items(self, state: OutboxState | None = None, limit: int = 100) -> list[OutboxItem]:
        q = select(t.outbox).order_by(_c.id).limit(limit)
        if state:
            q = q.where(_c.state == OutboxState(state).value)
        return [outbox_from_row(r) for r in self.conn.execute(q)]

    def get(self, item_id: int) -> OutboxItem | None:
        row = self.conn.execute(GET, {"item_id": item_id}).first()
        return outbox_from_row(row) if row else None

    def claim(
        self,
        now: datetime,
        *,
        limit: int,
        lease_until: datetime,
        token: str,
        kinds: Sequence[str] | None = None,
    ) -> list[OutboxItem]:
        """Take due rows for delivery. Two deliverers never hold the same row."""
        pick, take = claiming(kinds is not None, self._locking, limit)
        due: dict[str, Any] = {"now": now}
        if kinds is not None:
            due["kinds"] = [str(k) for k in kinds]
        ids = [r.id for r in self.conn.execute(pick, due)]
        if not ids:
            return []
        self.conn.execute(take, {**due, "ids": ids, "token": token, "new_lease": lease_until})
        rows = self.conn.execute(CLAIMED, {"ids": ids, "token": token})
        return [outbox_from_row(r) for r in rows]

    def finish(self, outcome: DeliveryOutcome, token: str, *, at: datetime) -> bool:
        """Record the outcome of a claimed delivery; False if the claim was lost."""
        values: dict[str, Any] = {
            "where_id": outcome.item.id,
            "where_token": token,
            "state": outcome.state.value,
            "last_error": outcome.error,
            "claim_token": None,
            "lease_until": None,
        }
        if outcome.state is OutboxState.DELIVERED:
            values["delivered_at"] = at
            values["failing_since"] = None
        if outcome.next_attempt_at is not None:
            values["next_attempt_at"] = outcome.next_attempt_at
        if outcome.state is OutboxState.PENDING:
            values["failing_since"] = outcome.failing_since
        statement = FINISH if outcome.counted else PARK
        if self.conn.execute(statement, values).rowcount != 1:
            return False
        self.seen.track(outcome)
        return True

    def release(self, item_ids: Sequence[int], now: datetime) -> int:
        if not item_ids:
            return 0
        res = self.conn.execute(
            update(t.outbox)
            .where(_c.id.in_(list(item_ids)), _c.state == OutboxState.WAITING.value)
            .values(state=OutboxState.PENDING.value, next_attempt_at=now, last_error=None)
        )
        return int(res.rowcount)

    def for_requests(self, request_ids: Sequence[str]) -> list[OutboxItem]:
        if not request_ids:
            return []
        rows = self.conn.execute(FOR_REQUESTS, {"ids": list(request_ids)})
        return [outbox_from_row(r) for r in rows]

    def retry(self, retry: Retry, now: datetime) -> bool:
        retryable = (OutboxState.DEAD, OutboxState.PENDING, OutboxState.WAITING)
        res = self.conn.execute(
            update(t.outbox)
            .where(_c.id == retry.item.id, _c.state.in_([s.value for s in retryable]))
            .values(
                state=OutboxState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                failing_since=None,
            )
        )
        if res.rowcount != 1:
            return False
        self.seen.track(retry)
        return True

    def without_waiting_for_disk(self) -> None:
        if self._locking:  # PostgreSQL; SQLite's WAL commits do not wait for the disk anyway
            self.conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(select(_c.state, func.count()).group_by(_c.state))
        return {r[0]: r[1] for r in rows}
