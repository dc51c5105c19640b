"""``RequestRepository`` over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, or_, select, text, update

from bot.adapters.db import tables as t
from bot.adapters.db.engine import insert_ignoring_duplicates
from bot.adapters.db.mapping import (
    REQUEST_COLUMNS,
    VOTE_COLUMNS,
    by_request,
    mutable_row,
    request_from_row,
    request_row,
    vote_row,
)
from bot.domain.model import DECIDED, ApprovalRequest, State, Vote, states_for_decision
from bot.ports.store import DuplicateSubmission, RequestFilter, Tracker

_c = t.approval_requests.c

# Prebuilt (see ``bot/adapters/db/engine.py``).
GET = select(t.approval_requests).where(_c.id == bindparam("request_id"))
GET_LOCKED = GET.with_for_update()
GET_UNLESS_LOCKED = GET.with_for_update(skip_locked=True)
VOTES = (
    select(t.votes)
    .where(t.votes.c.request_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.votes.c.id)
)
SUBMISSION = select(t.approval_requests).where(
    _c.model_name == bindparam("model_name"),
    _c.model_version == bindparam("model_version"),
    _c.submission_key == bindparam("submission_key"),
)
# The new values come as parameters named after their columns.
SAVE = update(t.approval_requests).where(
    _c.id == bindparam("where_id"), _c.state == bindparam("where_state")
)
INSERT_VOTES = insert(t.votes)
ADD = insert_ignoring_duplicates(t.approval_requests, REQUEST_COLUMNS, returning=("id",))
ADD_VOTES = insert_ignoring_duplicates(t.votes, VOTE_COLUMNS)
PENDING_FOR_MODEL = (
    select(t.approval_requests)
    .where(_c.model_name == bindparam("model_name"), _c.state == State.PENDING.value)
    .order_by(_c.created_at, _c.id)
)
PENDING_FOR_MODEL_LOCKED = PENDING_FOR_MODEL.with_for_update()
LOCK_MODEL = text("SELECT pg_advisory_xact_lock(hashtextextended(:m, 0))")  # PostgreSQL


class SqlRequestRepository:
    """Requests it hands out to change (``get``, ``lock_due``, ``pending_for_model``) or
    takes in are ``track``ed: the unit of work records their events at commit."""

    def __init__(self, conn: Connection, seen: Tracker) -> None:
        self.conn = conn
        self.seen = seen
        self._locking = conn.dialect.name == "postgresql"

    def _votes(self, ids: Sequence[str]) -> dict[str, list[Vote]]:
        if not ids:
            return {}
        return by_request(ids, self.conn.execute(VOTES, {"ids": list(ids)}))

    def _build(self, rows: Sequence[Any]) -> list[ApprovalRequest]:
        votes = self._votes([r.id for r in rows])
        return [request_from_row(r, votes[r.id]) for r in rows]

    def _one(self, q: Any, params: dict[str, Any] | None = None) -> ApprovalRequest | None:
        row = self.conn.execute(q, params).first()
        return self._build([row])[0] if row else None

    def _tracked(self, request: ApprovalRequest | None) -> ApprovalRequest | None:
        if request is not None:
            self.seen.track(request)
        return request

    # -- queries ----------------------------------------------------------

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        q = GET_LOCKED if for_update and self._locking else GET
        return self._tracked(self._one(q, {"request_id": request_id}))

    def lock_due(self, request_id: str) -> ApprovalRequest | None:
        """Lock a request for a scan; None if another replica holds it (PostgreSQL)."""
        q = GET_UNLESS_LOCKED if self._locking else GET
        return self._tracked(self._one(q, {"request_id": request_id}))

    def find_submission(
        self, model_name: str, model_version: str, staging_run_id: str | None
    ) -> ApprovalRequest | None:
        return self._one(
            SUBMISSION,
            {
                "model_name": model_name,
                "model_version": model_version,
                "submission_key": staging_run_id or "",
            },
        )

    def lock_model(self, model_name: str) -> None:
        """Serialise submissions for one model until commit (SQLite: BEGIN IMMEDIATE already does).

        Row locks cannot cover "no pending request yet": two new versions submitted at
        once would both stay pending. A transaction-level advisory lock on the model
        name makes the second wait and then supersede the first.
        """
        if self._locking:
            self.conn.execute(LOCK_MODEL, {"m": model_name})

    def pending_for_model(self, model_name: str) -> list[ApprovalRequest]:
        q = PENDING_FOR_MODEL_LOCKED if self._locking else PENDING_FOR_MODEL
        found = self._build(self.conn.execute(q, {"model_name": model_name}).all())
        for request in found:
            self.seen.track(request)
        return found

    def search(self, flt: RequestFilter) -> list[ApprovalRequest]:
        conds: list[Any] = []
        if flt.state:
            conds.append(_c.state == flt.state.value)
        if flt.model:
            conds.append(_c.model_name == flt.model)
        if flt.decided:
            conds.append(_c.state.in_([s.value for s in DECIDED]))
        if flt.since:
            conds.append(_c.created_at >= flt.since)
        if flt.until:
            conds.append(_c.created_at < flt.until)
        if flt.decision:
            conds.append(_c.state.in_([s.value for s in states_for_decision(flt.decision)]))
        if flt.approver:
            conds.append(
                exists().where(t.votes.c.request_id == _c.id, t.votes.c.person == flt.approver)
            )
        if flt.after_id:
            at, rid = flt.after_id
            conds.append(or_(_c.created_at > at, and_(_c.created_at == at, _c.id > rid)))
        order = (_c.created_at.desc(), _c.id.desc()) if flt.newest_first else (_c.created_at, _c.id)
        q = select(t.approval_requests).where(*conds).order_by(*order)
        if flt.limit:
            q = q.limit(flt.limit)
        return self._build(self.conn.execute(q).all())

    def in_state(self, state: State, limit: int = 100) -> list[ApprovalRequest]:
        q = select(t.approval_requests).where(_c.state == state.value).order_by(_c.id).limit(limit)
        return self._build(self.conn.execute(q).all())

    def due_ids(self, now: datetime, limit: int) -> list[str]:
        q = (
            select(_c.id)
            .where(
                _c.state == State.PENDING.value,
                or_(
                    _c.deadline_at <= now,
                    _c.next_reminder_at <= now,
                    _c.escalate_at <= now,
                    _c.auto_approve_at <= now,
                ),
            )
            .order_by(_c.deadline_at)
            .limit(limit)
        )
        return [r.id for r in self.conn.execute(q)]

    def count_by_state(self) -> dict[str, int]:
        rows = self.conn.execute(select(_c.state, func.count()).group_by(_c.state))
        return {r[0]: r[1] for r in rows}

    # -- writes -----------------------------------------------------------

    def add(self, request: ApprovalRequest) -> None:
        if self.conn.execute(ADD, request_row(request)).first() is None:  # already in:
            raise DuplicateSubmission(request.model_name, request.model_version)
        self._insert_votes(request.id, request.votes)
        self.seen.track(request)

    def save(self, request: ApprovalRequest, *, expected_state: State) -> bool:
        result = self.conn.execute(
            SAVE,
            {"where_id": request.id, "where_state": expected_state.value, **mutable_row(request)},
        )
        if result.rowcount != 1:
            self.seen.forget(request)
            return False
        self.seen.track(request)
        if request.votes:  # the ones stored already are skipped (one vote per person)
            self.conn.execute(ADD_VOTES, [vote_row(request.id, v) for v in request.votes])
        return True

    def _insert_votes(self, request_id: str, new: Sequence[Vote]) -> None:
        if new:
            self.conn.execute(INSERT_VOTES, [vote_row(request_id, v) for v in new])
