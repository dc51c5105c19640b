"""The objects the CLI's --format json and the HTTP API return: requests and outbox rows; and
the audit rows the CLI's ``audit --format csv`` and the console's CSV export share."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from types import EllipsisType
from typing import Any

from bot.domain.audit import AuditRecord
from bot.domain.effects import EffectKind
from bot.domain.model import ApprovalRequest, Policy
from bot.domain.names import EventKind, OutboxState
from bot.domain.outbox import OutboxItem


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


AUDIT_HEADERS = (
    "id",
    "model",
    "version",
    "state",
    "requested_by",
    "created_at",
    "decided_at",
    "decided_by",
    "approvers",
    "reason",
)


def audit_rows(requests: Sequence[ApprovalRequest]) -> list[list[Any]]:
    """One row per request, in ``AUDIT_HEADERS`` order."""
    return [
        [
            r.id,
            r.model_name,
            r.model_version,
            r.state.value,
            r.requested_by,
            ts(r.created_at),
            ts(r.decided_at),
            r.decided_by,
            ",".join(r.approvals()) or "-",
            r.reason,
        ]
        for r in requests
    ]


def csv_cell(value: Any) -> Any:
    """A spreadsheet must not run a cell as a formula (CSV injection): prefix it with '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(headers: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> str:
    """CSV text: the header line (unless None), then the rows, every cell safe to open in a
    spreadsheet (``csv_cell``). The CLI's and the console's exports both write this."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if headers is not None:
        w.writerow(headers)
    w.writerows([[csv_cell(c) for c in row] for row in rows])
    return buf.getvalue()


def effect_detail(item: OutboxItem) -> str:
    """One line on where an effect stands, with what to do when it is stuck."""
    if item.state is OutboxState.WAITING:
        return f"waiting: {item.last_error or 'its system is not configured'}"
    if item.state is OutboxState.DEAD:
        return (
            f"failed after {item.attempts} attempt(s): {item.last_error or '?'}; "
            f"retry with `approval-bot outbox retry {item.id}`"
        )
    if item.state is OutboxState.PENDING and item.last_error:
        return f"retrying: {item.last_error}"
    return item.state.value


def launch_problem(effects: Sequence[OutboxItem]) -> str | None:
    """The one sentence every channel shows on a request whose promotion launch failed for
    good, with the command that launches it again; None otherwise."""
    for item in effects:
        if item.kind == EffectKind.LAUNCH_PROMOTION and item.state is OutboxState.DEAD:
            return (
                f"promotion could not start: {item.last_error or 'unknown error'} — "
                f"retry with `approval-bot outbox retry {item.id}`"
            )
    return None


def request_to_dict(
    request: ApprovalRequest,
    policy: Policy | None = None,
    history: list[AuditRecord] | None = None,
    effects: list[OutboxItem] | None = None,
    *,
    newer_approval: ApprovalRequest | None | EllipsisType = ...,
) -> dict[str, Any]:
    """A request as JSON. ``newer_approval`` (when given, None included) is the model's
    approval that replaced this one, which the promotion guard refuses to promote over."""
    out: dict[str, Any] = {
        "id": request.id,
        "state": request.state.value,
        "decision": request.decision.value if request.decision else None,
        "model_name": request.model_name,
        "model_version": request.model_version,
        "challenger_run_id": request.challenger_run_id,
        "data_run_id": request.data_run_id,
        "staging_run_id": request.staging_run_id,
        "requested_by": request.requested_by,
        "gates": [{**g.to_dict(), "no_champion": g.no_champion} for g in request.gates],
        "links": request.links,
        "promotion": request.promotion,
        "votes": [v.to_dict() for v in request.votes],
        "created_at": _iso(request.created_at),
        "deadline_at": _iso(request.deadline_at),
        "decided_at": _iso(request.decided_at),
        "decided_by": request.decided_by,
        "reason": request.reason,
        "override_failed_gates": request.override,
        "expiry_action": request.expiry_action.value if request.expiry_action else None,
        "reminders_sent": request.reminders_sent,
        "escalated_at": _iso(request.escalated_at),
        "promotion_run_id": request.promotion_run_id,
        "promotion_detail": request.promotion_detail,
        "auto_approve_at": _iso(request.auto_approve_at),  # the veto window's end, if any
        "auto_approve_policy": request.auto_approve_policy,
    }
    if policy is not None:
        out["quorum"] = quorum_to_list(request, policy)
    if not isinstance(newer_approval, EllipsisType):
        out["newer_approval"] = (
            None
            if newer_approval is None
            else {
                "id": newer_approval.id,
                "model_version": newer_approval.model_version,
                "state": newer_approval.state.value,
                "decided_at": _iso(newer_approval.decided_at),
            }
        )
    if effects is not None:
        out["effects"] = [effect_to_dict(i) for i in effects]
    if history is not None:
        out["history"] = [_event_to_dict(r) for r in history]
    return out


def _event_to_dict(r: AuditRecord) -> dict[str, Any]:
    out = {"seq": r.seq, "at": r.at.isoformat(), "kind": r.kind, "actor": r.actor, "data": r.data}
    if r.repeats > 1:  # a refusal repeated within its window (bot/service/refusals.py)
        out["repeats"] = r.repeats
    return out


def outbox_item_to_dict(i: OutboxItem) -> dict[str, Any]:
    return {
        "id": i.id,
        "kind": i.kind,
        "key": i.key,
        "request_id": i.request_id,
        "state": i.state.value,
        "attempts": i.attempts,
        "next_attempt_at": _iso(i.next_attempt_at),
        "last_error": i.last_error,
        "created_at": _iso(i.created_at),
        "delivered_at": _iso(i.delivered_at),
        "payload": i.payload,
    }


def quorum_to_list(request: ApprovalRequest, policy: Policy) -> list[dict[str, Any]]:
    return [
        {
            "group": p.group,
            "min_approvals": p.min_approvals,
            "approvals": p.approvals,
            "people": list(p.people),
            "met": p.met,
        }
        for p in request.progress(policy)
    ]


def effect_to_dict(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "state": item.state.value,
        "attempts": item.attempts,
        "detail": effect_detail(item),
    }


def event_summary(record: AuditRecord) -> str:
    """One line on what an audit event says (the console's timeline, the chat `audit`
    commands)."""
    d = record.data
    kind = record.kind
    if kind == EventKind.VOTED:
        text = f"{d.get('vote', '')} via {d.get('channel', '?')}"
        if d.get("override"):
            text += " (over failed gates)"
        return text + (f": {d['comment']}" if d.get("comment") else "")
    if kind == EventKind.DENIED:
        times = f" (×{record.repeats})" if record.repeats > 1 else ""
        return f"{d.get('vote', '')} refused{times}: {d.get('message', '')}"
    if kind == EventKind.DECIDED:
        return f"{d.get('decision', '')}: {d.get('reason') or ''}".rstrip(": ")
    if kind == EventKind.PROMOTION_STARTED:
        return f"run {d.get('run_id', '')}"
    if kind == EventKind.PROMOTION_FINISHED:
        return f"{d.get('state', '')}: {d.get('detail', '')}"
    if kind == EventKind.SUPERSEDED:
        return f"by request {d.get('by_request', '')}"
    if kind in (EventKind.EFFECT_DELIVERED, EventKind.EFFECT_FAILED):
        return " ".join(str(d.get(k, "")) for k in ("kind", "error") if d.get(k))
    if kind == EventKind.EXPIRED:
        return f"missing {d.get('missing') or 'nothing'}"
    if kind == EventKind.REMINDED:
        return f"reminder {d.get('count', '')}"
    if kind == EventKind.ESCALATED:
        return f"to {d.get('to', '')}"
    if kind == EventKind.WINDOW_CLOSED:
        return str(d.get("reason", ""))
    via = f"token {d['token']}" if d.get("token") else ""
    if kind == EventKind.OUTBOX_RETRIED:
        by = f" by {via}" if via else ""
        return f"{d.get('kind', '')} (outbox item {d.get('item', '?')}){by}"
    if kind == EventKind.SUBMITTED and via:
        return f"via {via}"
    return ""
