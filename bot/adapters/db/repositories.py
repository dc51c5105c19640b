"""Repositories over SQLAlchemy Core; they map rows to domain objects and back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.adapters.db import tables as t
from bot.domain.audit import GENESIS, AuditRecord, canonical_json, chain_hash
from bot.domain.effects import Effect
from bot.domain.model import (
    ApprovalRequest,
    Event,
    ExpiryAction,
    GateResult,
    Group,
    Person,
    Policy,
    State,
    Vote,
    VoteKind,
)
from bot.domain.quorum import Rule
from bot.ports import Directory, DuplicateSubmission, OutboxItem, RequestFilter


def _seconds(value: timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def _delta(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


class SqlRequestRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    # -- mapping ----------------------------------------------------------

    def _votes(self, ids: Sequence[str]) -> dict[str, list[Vote]]:
        out: dict[str, list[Vote]] = {i: [] for i in ids}
        if not ids:
            return out
        rows = self.conn.execute(
            select(t.votes).where(t.votes.c.request_id.in_(ids)).order_by(t.votes.c.id)
        )
        for r in rows:
            out[r.request_id].append(
                Vote(
                    person=r.person,
                    vote=VoteKind(r.vote),
                    channel=r.channel,
                    at=r.at,
                    comment=r.comment,
                    groups=tuple(r.groups),
                    override=r.override,
                )
            )
        return out

    def _build(self, rows: Sequence[Any]) -> list[ApprovalRequest]:
        votes = self._votes([r.id for r in rows])
        return [
            ApprovalRequest(
                id=r.id,
                model_name=r.model_name,
                model_version=r.model_version,
                requested_by=r.requested_by,
                created_at=r.created_at,
                deadline_at=r.deadline_at,
                challenger_run_id=r.challenger_run_id,
                data_run_id=r.data_run_id,
                staging_run_id=r.staging_run_id,
                gates=tuple(GateResult(**g) for g in r.gates),
                links=dict(r.links),
                promotion=dict(r.promotion),
                state=State(r.state),
                votes=votes[r.id],
                decided_at=r.decided_at,
                decided_by=r.decided_by,
                reason=r.reason,
                override=r.override,
                expiry_action=ExpiryAction(r.expiry_action) if r.expiry_action else None,
                next_reminder_at=r.next_reminder_at,
                reminders_sent=r.reminders_sent,
                escalate_at=r.escalate_at,
                escalated_at=r.escalated_at,
                promotion_run_id=r.promotion_run_id,
            )
            for r in rows
        ]

    @staticmethod
    def _mutable(req: ApprovalRequest) -> dict[str, Any]:
        return {
            "state": req.state.value,
            "decided_at": req.decided_at,
            "decided_by": req.decided_by,
            "reason": req.reason,
            "override": req.override,
            "expiry_action": req.expiry_action.value if req.expiry_action else None,
            "next_reminder_at": req.next_reminder_at,
            "reminders_sent": req.reminders_sent,
            "escalate_at": req.escalate_at,
            "escalated_at": req.escalated_at,
            "promotion_run_id": req.promotion_run_id,
        }

    # -- queries ----------------------------------------------------------

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        q = select(t.approval_requests).where(t.approval_requests.c.id == request_id)
        if for_update and self._locking:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return self._build([row])[0] if row else None

    def lock_due(self, request_id: str) -> ApprovalRequest | None:
        """Lock a request for a scan; None if another replica holds it (PostgreSQL)."""
        q = select(t.approval_requests).where(t.approval_requests.c.id == request_id)
        if self._locking:
            q = q.with_for_update(skip_locked=True)
        row = self.conn.execute(q).first()
        return self._build([row])[0] if row else None

    def find_submission(
        self, model_name: str, model_version: str, staging_run_id: str | None
    ) -> ApprovalRequest | None:
        c = t.approval_requests.c
        row = self.conn.execute(
            select(t.approval_requests).where(
                c.model_name == model_name,
                c.model_version == model_version,
                c.submission_key == (staging_run_id or ""),
            )
        ).first()
        return self._build([row])[0] if row else None

    def lock_model(self, model_name: str) -> None:
        """Serialise submissions for one model until commit (SQLite: BEGIN IMMEDIATE already does).

        Row locks cannot cover "no pending request yet": two new versions submitted at
        once would both stay pending. A transaction-level advisory lock on the model
        name makes the second wait and then supersede the first.
        """
        if self._locking:
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:m, 0))"), {"m": model_name}
            )

    def pending_for_model(self, model_name: str) -> list[ApprovalRequest]:
        c = t.approval_requests.c
        q = (
            select(t.approval_requests)
            .where(c.model_name == model_name, c.state == State.PENDING.value)
            .order_by(c.created_at, c.id)
        )
        if self._locking:
            q = q.with_for_update()
        return self._build(self.conn.execute(q).all())

    def search(self, flt: RequestFilter) -> list[ApprovalRequest]:
        c = t.approval_requests.c
        conds: list[Any] = []
        if flt.state:
            conds.append(c.state == flt.state)
        if flt.model:
            conds.append(c.model_name == flt.model)
        if flt.decided:
            conds.append(c.state != State.PENDING.value)
        if flt.since:
            conds.append(c.created_at >= flt.since)
        if flt.until:
            conds.append(c.created_at < flt.until)
        if flt.decision:
            if flt.decision == State.APPROVED.value:
                approved = [State.APPROVED, State.PROMOTING, State.PROMOTED, State.PROMOTION_FAILED]
                conds.append(c.state.in_([s.value for s in approved]))
            else:
                conds.append(c.state == flt.decision)
        if flt.approver:
            conds.append(
                exists().where(
                    t.votes.c.request_id == c.id,
                    t.votes.c.person == flt.approver,
                )
            )
        if flt.after_id:
            at, rid = flt.after_id
            conds.append(or_(c.created_at > at, and_(c.created_at == at, c.id > rid)))
        order = (c.created_at.desc(), c.id.desc()) if flt.newest_first else (c.created_at, c.id)
        q = select(t.approval_requests).where(*conds).order_by(*order)
        if flt.limit:
            q = q.limit(flt.limit)
        return self._build(self.conn.execute(q).all())

    def in_state(self, state: State, limit: int = 100) -> list[ApprovalRequest]:
        c = t.approval_requests.c
        q = select(t.approval_requests).where(c.state == state.value).order_by(c.id).limit(limit)
        return self._build(self.conn.execute(q).all())

    def due_ids(self, now: datetime, limit: int) -> list[str]:
        c = t.approval_requests.c
        q = (
            select(c.id)
            .where(
                c.state == State.PENDING.value,
                or_(c.deadline_at <= now, c.next_reminder_at <= now, c.escalate_at <= now),
            )
            .order_by(c.deadline_at)
            .limit(limit)
        )
        return [r.id for r in self.conn.execute(q)]

    def count_by_state(self) -> dict[str, int]:
        c = t.approval_requests.c
        rows = self.conn.execute(select(c.state, func.count()).group_by(c.state))
        return {r[0]: r[1] for r in rows}

    # -- writes -----------------------------------------------------------

    def add(self, request: ApprovalRequest) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(t.approval_requests).values(
                        id=request.id,
                        model_name=request.model_name,
                        model_version=request.model_version,
                        challenger_run_id=request.challenger_run_id,
                        data_run_id=request.data_run_id,
                        staging_run_id=request.staging_run_id,
                        submission_key=request.staging_run_id or "",
                        requested_by=request.requested_by,
                        gates=[g.to_dict() for g in request.gates],
                        links=request.links,
                        promotion=request.promotion,
                        created_at=request.created_at,
                        deadline_at=request.deadline_at,
                        **self._mutable(request),
                    )
                )
        except IntegrityError as exc:
            raise DuplicateSubmission(request.model_name, request.model_version) from exc
        self._insert_votes(request, request.votes)

    def save(self, request: ApprovalRequest, *, expected_state: State) -> bool:
        c = t.approval_requests.c
        result = self.conn.execute(
            update(t.approval_requests)
            .where(c.id == request.id, c.state == expected_state.value)
            .values(**self._mutable(request))
        )
        if result.rowcount != 1:
            return False
        stored = {v.person for v in self._votes([request.id])[request.id]}
        self._insert_votes(request, [v for v in request.votes if v.person not in stored])
        return True

    def _insert_votes(self, request: ApprovalRequest, new: Sequence[Vote]) -> None:
        if not new:
            return
        self.conn.execute(
            insert(t.votes),
            [
                {
                    "request_id": request.id,
                    "person": v.person,
                    "vote": v.vote.value,
                    "channel": v.channel,
                    "at": v.at,
                    "comment": v.comment,
                    "groups": list(v.groups),
                    "override": v.override,
                }
                for v in new
            ],
        )


class SqlDirectoryRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load(self) -> Directory:
        people = tuple(
            Person(r.name, r.slack_id, r.telegram_id, r.email)
            for r in self.conn.execute(select(t.people).order_by(t.people.c.name))
        )
        members: dict[int, set[str]] = {}
        for r in self.conn.execute(
            select(t.group_members.c.group_id, t.people.c.name).join(
                t.people, t.people.c.id == t.group_members.c.person_id
            )
        ):
            members.setdefault(r.group_id, set()).add(r.name)
        groups = tuple(
            Group(r.name, frozenset(members.get(r.id, ())), r.slack_usergroup)
            for r in self.conn.execute(select(t.groups).order_by(t.groups.c.name))
        )
        policies = tuple(
            self._policy(r)
            for r in self.conn.execute(select(t.policies).order_by(t.policies.c.model))
        )
        return Directory(people, groups, policies)

    @staticmethod
    def _policy(r: Any) -> Policy:
        return Policy(
            model=r.model,
            rules=tuple(Rule(x["group"], int(x["min_approvals"])) for x in r.rules),
            deadline=timedelta(seconds=r.deadline_s),
            remind_every=_delta(r.remind_every_s),
            escalate_after=_delta(r.escalate_after_s),
            escalate_to=r.escalate_to,
            on_expiry=ExpiryAction(r.on_expiry),
            allow_self_approval=r.allow_self_approval,
            allow_override_failed_gates=r.allow_override_failed_gates,
            reject_reason_required=r.reject_reason_required,
        )

    def person_by_identity(self, channel: str, value: str) -> Person | None:
        c = t.people.c
        if channel == "slack":
            cond = c.slack_id == value
        elif channel == "telegram":
            try:
                cond = c.telegram_id == int(value)
            except ValueError:
                return None
        elif channel in ("email", "console"):
            cond = func.lower(c.email) == value.lower()
        else:
            cond = c.name == value
        r = self.conn.execute(select(t.people).where(cond)).first()
        return Person(r.name, r.slack_id, r.telegram_id, r.email) if r else None

    def groups_of(self, person: str) -> frozenset[str]:
        rows = self.conn.execute(
            select(t.groups.c.name)
            .join(t.group_members, t.group_members.c.group_id == t.groups.c.id)
            .join(t.people, t.people.c.id == t.group_members.c.person_id)
            .where(t.people.c.name == person)
        )
        return frozenset(r.name for r in rows)

    def policy_for(self, model_name: str) -> Policy | None:
        rows = {
            r.model: r
            for r in self.conn.execute(
                select(t.policies).where(t.policies.c.model.in_([model_name, "*"]))
            )
        }
        row = rows.get(model_name) or rows.get("*")
        return self._policy(row) if row else None

    def replace(self, directory: Directory) -> None:
        """Make the stored directory equal to ``directory`` (inside the caller's transaction)."""
        for table in (t.group_members, t.groups, t.people, t.policies):
            self.conn.execute(delete(table))
        ids: dict[str, int] = {}
        for p in directory.people:
            res = self.conn.execute(
                insert(t.people).values(
                    name=p.name, slack_id=p.slack, telegram_id=p.telegram, email=p.email
                )
            )
            ids[p.name] = res.inserted_primary_key[0]
        for g in directory.groups:
            gid = self.conn.execute(
                insert(t.groups).values(name=g.name, slack_usergroup=g.slack_usergroup)
            ).inserted_primary_key[0]
            if g.members:
                self.conn.execute(
                    insert(t.group_members),
                    [{"group_id": gid, "person_id": ids[m]} for m in sorted(g.members)],
                )
        for pol in directory.policies:
            self.conn.execute(
                insert(t.policies).values(
                    model=pol.model,
                    rules=[{"group": r.group, "min_approvals": r.min_approvals} for r in pol.rules],
                    deadline_s=_seconds(pol.deadline),
                    remind_every_s=_seconds(pol.remind_every),
                    escalate_after_s=_seconds(pol.escalate_after),
                    escalate_to=pol.escalate_to,
                    on_expiry=pol.on_expiry.value,
                    allow_self_approval=pol.allow_self_approval,
                    allow_override_failed_gates=pol.allow_override_failed_gates,
                    reject_reason_required=pol.reject_reason_required,
                )
            )


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
            rec = AuditRecord(seq, at, ev.kind, ev.actor, request_id, data, prev, "")
            digest = chain_hash(prev, rec.body())
            self.conn.execute(
                insert(t.audit_events).values(
                    seq=seq,
                    at=at,
                    kind=ev.kind,
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
        return [
            AuditRecord(r.seq, r.at, r.kind, r.actor, r.request_id, r.data, r.prev_hash, r.hash)
            for r in self.conn.execute(q)
        ]

    def head(self) -> tuple[int, str] | None:
        row = self.conn.execute(select(t.audit_head).where(t.audit_head.c.id == 1)).first()
        return (row.seq, row.hash) if row else None


def _item(r: Any) -> OutboxItem:
    return OutboxItem(
        r.id,
        r.kind,
        r.idempotency_key,
        r.request_id,
        r.payload,
        r.state,
        r.attempts,
        r.next_attempt_at,
        r.last_error,
        r.created_at,
        r.delivered_at,
    )


class SqlOutbox:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def add(self, effects: Sequence[Effect], at: datetime) -> None:
        for eff in effects:
            already = self.conn.execute(
                select(t.outbox.c.id).where(t.outbox.c.idempotency_key == eff.key)
            ).first()
            if already:
                continue
            self.conn.execute(
                insert(t.outbox).values(
                    kind=eff.kind,
                    idempotency_key=eff.key,
                    request_id=eff.request_id,
                    payload=eff.payload,
                    state="pending",
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
            )

    def items(self, state: str | None = None, limit: int = 100) -> list[OutboxItem]:
        q = select(t.outbox).order_by(t.outbox.c.id).limit(limit)
        if state:
            q = q.where(t.outbox.c.state == state)
        return [_item(r) for r in self.conn.execute(q)]

    def get(self, item_id: int) -> OutboxItem | None:
        row = self.conn.execute(select(t.outbox).where(t.outbox.c.id == item_id)).first()
        return _item(row) if row else None

    def claim(
        self, now: datetime, *, limit: int, lease_until: datetime, token: str
    ) -> list[OutboxItem]:
        """Take due rows for delivery. Two deliverers never hold the same row."""
        c = t.outbox.c
        due = or_(
            and_(c.state == "pending", c.next_attempt_at <= now),
            and_(c.state == "delivering", c.lease_until < now),
        )
        q = select(c.id).where(due).order_by(c.id).limit(limit)
        if self._locking:
            q = q.with_for_update(skip_locked=True)
        ids = [r.id for r in self.conn.execute(q)]
        if not ids:
            return []
        self.conn.execute(
            update(t.outbox)
            .where(c.id.in_(ids), due)
            .values(
                state="delivering",
                claim_token=token,
                lease_until=lease_until,
                attempts=c.attempts + 1,
            )
        )
        rows = self.conn.execute(
            select(t.outbox).where(c.id.in_(ids), c.claim_token == token).order_by(c.id)
        )
        return [_item(r) for r in rows]

    def finish(
        self,
        item_id: int,
        token: str,
        *,
        state: str,
        at: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record the outcome of a claimed delivery; False if the claim was lost."""
        c = t.outbox.c
        values: dict[str, Any] = {
            "state": state,
            "last_error": error,
            "claim_token": None,
            "lease_until": None,
        }
        if state == "delivered":
            values["delivered_at"] = at
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        res = self.conn.execute(
            update(t.outbox)
            .where(c.id == item_id, c.claim_token == token, c.state == "delivering")
            .values(**values)
        )
        return bool(res.rowcount == 1)

    def retry(self, item_id: int, now: datetime) -> bool:
        c = t.outbox.c
        res = self.conn.execute(
            update(t.outbox)
            .where(c.id == item_id, c.state.in_(["dead", "pending"]))
            .values(state="pending", attempts=0, next_attempt_at=now, last_error=None)
        )
        return bool(res.rowcount == 1)

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(select(t.outbox.c.state, func.count()).group_by(t.outbox.c.state))
        return {r[0]: r[1] for r in rows}


class SqlTokenRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, name: str, token_hash: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.api_tokens).values(name=name, token_hash=token_hash, created_at=at)
        )

    def exists(self, name: str) -> bool:
        return (
            self.conn.execute(select(t.api_tokens.c.id).where(t.api_tokens.c.name == name)).first()
            is not None
        )

    def find(self, token_hash: str) -> str | None:
        row = self.conn.execute(
            select(t.api_tokens.c.name).where(
                t.api_tokens.c.token_hash == token_hash, t.api_tokens.c.revoked_at.is_(None)
            )
        ).first()
        return row.name if row else None


class SqlChatMessages:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        c = t.chat_messages.c
        row = self.conn.execute(
            select(c.ref).where(c.request_id == request_id, c.channel == channel)
        ).first()
        return dict(row.ref) if row else None

    def put(self, request_id: str, channel: str, ref: dict[str, Any], at: datetime) -> None:
        c = t.chat_messages.c
        res = self.conn.execute(
            update(t.chat_messages)
            .where(c.request_id == request_id, c.channel == channel)
            .values(ref=ref, updated_at=at)
        )
        if res.rowcount == 0:
            self.conn.execute(
                insert(t.chat_messages).values(
                    request_id=request_id, channel=channel, ref=ref, updated_at=at
                )
            )
