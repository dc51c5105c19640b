"""What a request message says, worded once for every chat: the titles, the gate, rule and
vote lines. Each channel brings its markup: how it escapes, and how it writes bold, italic
and code (Slack's mrkdwn, Telegram's HTML)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.model import ApprovalRequest, GateResult, Policy, State, VoteKind

TITLES = {
    State.PENDING: "🗳️ Approval needed",
    State.APPROVED: "✅ Approved",
    State.REJECTED: "❌ Rejected",
    State.EXPIRED: "⌛ Expired",
    State.SUPERSEDED: "⏭️ Superseded",
    State.CANCELLED: "🚫 Cancelled",
    State.PROMOTING: "🚀 Approved, promoting",
    State.PROMOTED: "🏆 Approved and promoted",
    State.PROMOTION_FAILED: "⚠️ Approved, promotion failed",
}
OP_SIGNS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "="}


@dataclass(frozen=True)
class Markup:
    esc: Callable[[object], str]  # user-supplied text → safe in the markup
    bold: Callable[[str], str]
    italic: Callable[[str], str]
    code: Callable[[str], str]
    when: Callable[[datetime | None], str]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def gate_line(gate: GateResult, m: Markup) -> str:
    mark = "✅" if gate.passed else "❌"
    name, value = m.code(m.esc(gate.name)), f"{gate.value:g}"
    if gate.no_champion:
        return f"{mark} {name} = {value} (no champion yet)"
    sign = m.esc(OP_SIGNS.get(gate.op, gate.op))
    return f"{mark} {name} = {value} (threshold {sign} {gate.threshold:g})"


def quorum_line(request: ApprovalRequest, policy: Policy | None, m: Markup) -> str:
    if policy is None:
        return m.italic("no policy applies to this model")
    parts = []
    for p in request.progress(policy):
        who = f" ({', '.join(m.esc(x) for x in p.people)})" if p.people else ""
        mark = "✅" if p.met else "⏳"
        parts.append(f"{mark} {m.esc(p.group)} {p.approvals}/{p.min_approvals}{who}")
    return " · ".join(parts) or m.italic("no rules")


def vote_lines(request: ApprovalRequest, m: Markup) -> list[str]:
    out = []
    for v in request.votes:
        icon = "👍" if v.vote is VoteKind.APPROVE else "👎"
        verb = "approved" if v.vote is VoteKind.APPROVE else "rejected"
        line = f"{icon} {m.bold(m.esc(v.person))} {verb} via {m.esc(v.channel)}, {m.when(v.at)}"
        if v.override:
            line += " " + m.italic("(over failed gates)")
        if v.comment:
            line += f": {m.esc(clip(v.comment, 300))}"
        out.append(line)
    return out
