"""Rows ↔ domain objects: the one place that knows both the tables and the aggregate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.domain.audit import AuditRecord
from bot.domain.model import (
    ApprovalRequest,
    ExpiryAction,
    GateResult,
    Policy,
    State,
    Vote,
    VoteKind,
)
from bot.domain.names import OutboxState
from bot.domain.outbox import OutboxItem
from bot.domain.policy import CanarySpec
from bot.domain.quorum import Rule

# -- approval requests ------------------------------------------------------------

# Columns that change after submission; the rest are written once.
MUTABLE = (
    "state",
    "decided_at",
    "decided_by",
    "reason",
    "override",
    "expiry_action",
    "next_reminder_at",
    "reminders_sent",
    "escalate_at",
    "escalated_at",
    "promotion_run_id",
    "promotion_detail",
    "auto_approve_at",
    "auto_approve_policy",
    "rollout",
)


REQUEST_COLUMNS = (
    "id",
    "model_name",
    "model_version",
    "challenger_run_id",
    "data_run_id",
    "staging_run_id",
    "submission_key",
    "requested_by",
    "gates",
    "links",
    "promotion",
    "created_at",
    "deadline_at",
    "state",
    *MUTABLE[1:],
)
VOTE_COLUMNS = ("request_id", "person", "vote", "channel", "at", "comment", "groups", "override")


def request_row(req: ApprovalRequest) -> dict[str, Any]:
    """Every column of ``approval_requests`` for ``req`` (``MUTABLE`` for an update)."""
    return {
        "id": req.id,
        "model_name": req.model_name,
        "model_version": req.model_version,
        "challenger_run_id": req.challenger_run_id,
        "data_run_id": req.data_run_id,
        "staging_run_id": req.staging_run_id,
        # '' when the submission named no staging run, so the unique key still works.
        "submission_key": req.staging_run_id or "",
        "requested_by": req.requested_by,
        "gates": [g.to_dict() for g in req.gates],
        "links": req.links,
        "promotion": req.promotion,
        "created_at": req.created_at,
        "deadline_at": req.deadline_at,
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
        "promotion_detail": req.promotion_detail,
        "auto_approve_at": req.auto_approve_at,
        "auto_approve_policy": req.auto_approve_policy,
        "rollout": req.rollout,
    }


def mutable_row(req: ApprovalRequest) -> dict[str, Any]:
    row = request_row(req)
    return {k: row[k] for k in MUTABLE}


def request_from_row(r: Any, votes: list[Vote]) -> ApprovalRequest:
    return ApprovalRequest(
        id=r.id,
        model_name=r.model_name,
        model_version=r.model_version,
        requested_by=r.requested_by,
        created_at=r.created_at,
        deadline_at=r.deadline_at,
        challenger_run_id=r.challenger_run_id,
        data_run_id=r.data_run_id,
        staging_run_id=r.staging_run_id,
        gates=tuple(GateResult.stored(g) for g in r.gates),
        links=dict(r.links),
        promotion=dict(r.promotion),
        state=State(r.state),
        votes=votes,
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
        promotion_detail=r.promotion_detail,
        auto_approve_at=r.auto_approve_at,
        auto_approve_policy=r.auto_approve_policy,
        rollout=dict(r.rollout) if r.rollout else None,
    )


def vote_row(request_id: str, v: Vote) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "person": v.person,
        "vote": v.vote.value,
        "channel": v.channel,
        "at": v.at,
        "comment": v.comment,
        "groups": list(v.groups),
        "override": v.override,
    }


def vote_from_row(r: Any) -> Vote:
    return Vote(
        person=r.person,
        vote=VoteKind(r.vote),
        channel=r.channel,
        at=r.at,
        comment=r.comment,
        groups=tuple(r.groups),
        override=r.override,
    )


# -- the directory ---------------------------------------------------------------------


def _seconds(value: timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def _delta(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


def policy_row(pol: Policy) -> dict[str, Any]:
    return {
        "model": pol.model,
        "rules": [{"group": r.group, "min_approvals": r.min_approvals} for r in pol.rules],
        "deadline_s": _seconds(pol.deadline),
        "remind_every_s": _seconds(pol.remind_every),
        "escalate_after_s": _seconds(pol.escalate_after),
        "escalate_to": pol.escalate_to,
        "on_expiry": pol.on_expiry.value,
        "allow_self_approval": pol.allow_self_approval,
        "allow_override_failed_gates": pol.allow_override_failed_gates,
        "reject_reason_required": pol.reject_reason_required,
        "auto_approve_after_s": _seconds(pol.auto_approve_after),
        "rollback_groups": list(pol.rollback_groups),
        "canary": pol.canary.as_json() if pol.canary else None,
    }


def policy_from_row(r: Any) -> Policy:
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
        auto_approve_after=_delta(r.auto_approve_after_s),
        rollback_groups=tuple(r.rollback_groups or ()),
        canary=CanarySpec.from_json(r.canary),
    )


# -- the audit log and the outbox -----------------------------------------------------------


def audit_from_row(r: Any) -> AuditRecord:
    return AuditRecord(
        r.seq, r.at, r.kind, r.actor, r.request_id, r.data, r.prev_hash, r.hash, r.key_id, r.mac
    )


def outbox_from_row(r: Any) -> OutboxItem:
    return OutboxItem(
        r.id,
        r.kind,
        r.idempotency_key,
        r.request_id,
        r.payload,
        OutboxState(r.state),
        r.attempts,
        r.next_attempt_at,
        r.last_error,
        r.created_at,
        r.delivered_at,
        r.failing_since,
    )


def by_request(ids: Sequence[str], rows: Any) -> dict[str, list[Vote]]:
    """Votes grouped by request id, in the order the rows come (cast order)."""
    out: dict[str, list[Vote]] = {i: [] for i in ids}
    for r in rows:
        out[r.request_id].append(vote_from_row(r))
    return out
