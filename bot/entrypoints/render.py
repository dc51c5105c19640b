"""Plain-text renderings for the CLI (chat adapters have their own)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.audit import AuditRecord
from bot.domain.evidence import EvidenceInfo
from bot.domain.model import ApprovalRequest, Policy
from bot.domain.outbox import OutboxItem
from bot.service.views import (
    AUDIT_HEADERS,
    audit_rows,
    effect_detail,
    launch_problem,
    to_csv,
    ts,
)

__all__ = ["AUDIT_HEADERS", "audit_rows", "effect_detail", "show", "table", "to_csv", "ts"]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def approvers(r: ApprovalRequest) -> str:
    return ",".join(r.approvals()) or "-"


def pending_rows(requests: Sequence[ApprovalRequest]) -> list[list[Any]]:
    return [
        [
            r.id,
            r.model_name,
            r.model_version,
            r.requested_by,
            ts(r.deadline_at),
            f"{len(r.approvals())} approval(s)",
            "FAILED" if r.failed_gates else "passed",
        ]
        for r in requests
    ]


def show(
    r: ApprovalRequest,
    policy: Policy | None,
    history: Sequence[AuditRecord],
    effects: Sequence[OutboxItem] = (),
    evidence: Sequence[EvidenceInfo] = (),
) -> str:
    out = [
        f"{r.id}  {r.model_name} v{r.model_version}  [{r.state.value}]",
        f"requested by {r.requested_by} at {ts(r.created_at)}; deadline {ts(r.deadline_at)}",
    ]
    if r.in_window and r.auto_approve_at is not None:
        out.append(
            f"promotes at {ts(r.auto_approve_at)} unless rejected "
            f"(veto window of policy {r.auto_approve_policy})"
        )
    if r.data_run_id or r.challenger_run_id or r.staging_run_id:
        out.append(
            f"runs: challenger {r.challenger_run_id or '-'}, data {r.data_run_id or '-'}, "
            f"staging {r.staging_run_id or '-'}"
        )
    out.append("gates:")
    out += [f"  {g.describe()}" for g in r.gates] or ["  (none reported)"]
    if policy is not None:
        out.append("rules:")
        for p in r.progress(policy):
            who = f" ({', '.join(p.people)})" if p.people else ""
            out.append(f"  {p.group}: {p.approvals}/{p.min_approvals}{who}")
    if r.votes:
        out.append("votes:")
        for v in r.votes:
            note = f" — {v.comment}" if v.comment else ""
            flag = " [override of failed gates]" if v.override else ""
            out.append(f"  {v.person} {v.vote.value} via {v.channel} at {ts(v.at)}{note}{flag}")
    if r.decided_at:
        out.append(
            f"decided {r.decision} by {r.decided_by} at {ts(r.decided_at)}"
            + (f": {r.reason}" if r.reason else "")
        )
    if r.promotion_run_id:
        detail = f" — {r.promotion_detail}" if r.promotion_detail else ""
        out.append(f"promotion run {r.promotion_run_id}: {r.state.value}{detail}")
    if problem := launch_problem(effects):
        out.append(problem)
    if effects:
        out.append("effects:")
        out += [f"  {i.kind}: {effect_detail(i)}" for i in effects]
    out += evidence_lines(evidence)
    if history:
        out.append("history:")
        out += [f"  #{h.seq} {ts(h.at)} {h.kind} by {h.actor}" for h in history]
    return "\n".join(out)


def evidence_lines(evidence: Sequence[EvidenceInfo]) -> list[str]:
    """The pictures, as the audit log holds them: type, pixels, bytes, SHA-256, alt text."""
    if not evidence:
        return []
    return ["evidence:"] + [
        f"  #{e.index} {e.media_type} {e.width}×{e.height} px, {e.size} bytes, "
        f"sha256 {e.sha256}\n     {e.alt}"
        for e in evidence
    ]
