"""A request's message, worded once for every chat: what it says, section by section.

``compose`` turns what a channel shows of a request (``MessageView``) into a
``RequestMessage`` of rich lines; each channel's markup lays it out (its blocks, its
HTML). The message always shows the request's *current* state, so showing it again is
harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.gates import GateResult
from bot.domain.model import ApprovalRequest, Policy, State, VoteKind
from bot.service.chat.rich import Code, Line, Part, When, bold, clip, italic, joined, link
from bot.service.chat.rollout import RolloutButtons, planned_line, rollout_buttons, rollout_lines
from bot.service.chat.texts import veto_window
from bot.service.queries import MessageView
from bot.service.views import launch_problem

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
COMMENT_SHOWN = 300  # characters of a vote's comment on the message
REASON_SHOWN = 1000  # of the decision's reason
DETAIL_SHOWN = 500  # of how a promotion ended
NO_OVERRIDE = "⚠️ Gates failed and the policy does not allow approving over them."


@dataclass(frozen=True, slots=True)
class Buttons:
    """Approve and Reject, while the request is pending. ``failed``: the gates that failed,
    when the policy allows approving over them (the approval must say so: a confirmation,
    or the button's words)."""

    request_id: str
    failed: tuple[str, ...] = ()
    window: bool = False  # in its veto window: Approve reads "Approve now" (a vote as ever)

    @property
    def approve_label(self) -> str:
        return "Approve now" if self.window else "Approve"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A picture attached to the request, shown with its words (issue: the evidence)."""

    name: str
    alt: str


@dataclass(frozen=True, slots=True)
class RequestMessage:
    request_id: str
    state: State
    title: str  # plain: "🗳️ Approval needed: iris-classifier v3"
    notification: str  # plain: the notification's text, and the fallback without markup
    fields: tuple[tuple[str, Line], ...]  # (label, value): request, requested by, deadline…
    gates: tuple[Line, ...]
    links: tuple[Line, ...]  # links, then the runs
    quorum: Line
    votes: tuple[Line, ...]
    buttons: Buttons | None
    notes: tuple[Line, ...]  # what a pending request cannot be (approved over failed gates)
    decision: Line | None  # who decided, when
    reason: str | None  # and why (quoted)
    promotion: Line | None
    problem: Line | None  # what keeps the decision from taking effect
    evidence: tuple[Evidence, ...] = ()
    rollout: tuple[Line, ...] = ()  # a canary's step, traffic, analysis (chat/rollout.py)
    rollout_buttons: RolloutButtons | None = None


def gate_line(gate: GateResult) -> Line:
    mark = "✅" if gate.passed else "❌"
    head: Line = (f"{mark} ", Code(gate.name), f" = {gate.value:g}")
    if gate.no_champion:
        return (*head, " (no champion yet)")
    sign = OP_SIGNS.get(gate.op, gate.op)
    return (*head, f" (threshold {sign} {gate.threshold:g})")


def quorum_line(request: ApprovalRequest, policy: Policy | None) -> Line:
    if policy is None:
        return (italic("no policy applies to this model"),)
    parts = []
    for p in request.progress(policy):
        who = f" ({', '.join(p.people)})" if p.people else ""
        mark = "✅" if p.met else "⏳"
        parts.append((f"{mark} {p.group} {p.approvals}/{p.min_approvals}{who}",))
    return joined(parts, " · ") or (italic("no rules"),)


def vote_line(request: ApprovalRequest, index: int) -> Line:
    v = request.votes[index]
    icon, verb = ("👍", "approved") if v.vote is VoteKind.APPROVE else ("👎", "rejected")
    line: list[Part] = [f"{icon} ", bold(v.person), f" {verb} via {v.channel}, ", When(v.at)]
    if v.override:
        line += [" ", italic("(over failed gates)")]
    if v.comment:
        line.append(f": {clip(v.comment, COMMENT_SHOWN)}")
    return tuple(line)


def decision_line(request: ApprovalRequest) -> Line:
    """Who decided and when; a system decision reads differently from a human one."""
    decision = request.decision or request.state
    at = When(request.decided_at)
    if decision is State.EXPIRED:
        action = request.expiry_action.value if request.expiry_action else "none"
        return (
            bold("Expired"),
            " by the deadline (system decision), ",
            at,
            f"; on expiry: {action}",
        )
    name = decision.value.capitalize()
    if decision in (State.SUPERSEDED, State.CANCELLED):
        return (bold(name), f" by {request.decided_by or '-'}, ", at)
    who = ", ".join((request.decided_by or "-").split(","))
    override: Line = (" ", italic("(over failed gates)")) if request.override else ()
    return (bold(name), f" by {who}, ", at, *override)


def compose(
    request: ApprovalRequest,
    policy: Policy | None,
    *,
    problem: str | None = None,
    buttons: bool = True,
) -> RequestMessage:
    """The request's message; ``problem``: what keeps its decision from taking effect."""
    name = f"{request.model_name} v{request.model_version}"
    title = TITLES[request.state]
    runs = [
        (f"{label} ", Code(value))
        for label, value in (
            ("challenger run", request.challenger_run_id),
            ("data run", request.data_run_id),
            ("staging run", request.staging_run_id),
        )
        if value
    ]
    links = [(link(n, url),) for n, url in sorted(request.links.items()) if url]
    pending = request.is_pending
    overridable = bool(policy and policy.allow_override_failed_gates)
    failed = tuple(g.name for g in request.failed_gates)
    window = veto_window(request, policy)
    notes: tuple[Line, ...] = (
        ((NO_OVERRIDE,),) if pending and failed and policy and not overridable else ()
    )
    if (planned := planned_line(request)) is not None:
        notes = (*notes, planned)
    return RequestMessage(
        request_id=request.id,
        state=request.state,
        title=f"{title}: {name}",
        notification=f"{title.split(' ', 1)[1]}: {name} (request {request.id})",
        fields=(
            ("Request", (Code(request.id),)),
            ("Requested by", (request.requested_by,)),
            ("Deadline", (When(request.deadline_at),)),
            ("State", (request.state.value,)),
        ),
        gates=tuple(gate_line(g) for g in request.gates),
        links=(*links, *runs),
        quorum=quorum_line(request, policy),
        votes=tuple(vote_line(request, i) for i in range(len(request.votes))),
        buttons=(
            Buttons(request.id, failed if overridable else (), request.in_window)
            if pending and buttons
            else None
        ),
        notes=(window, *notes) if window else notes,
        decision=None if pending else decision_line(request),
        reason=clip(request.reason, REASON_SHOWN) if request.reason and not pending else None,
        promotion=_promotion(request),
        problem=(f"⚠️ {problem}",) if problem else None,
        rollout=rollout_lines(request),
        rollout_buttons=rollout_buttons(request) if buttons else None,
    )


def _promotion(request: ApprovalRequest) -> Line | None:
    if not request.promotion_run_id:
        return None
    detail = request.promotion_detail
    more = f" — {clip(detail, DETAIL_SHOWN)}" if detail else ""
    return ("Promotion run ", Code(request.promotion_run_id), f": {request.state.value}{more}")


def from_view(view: MessageView, *, buttons: bool = True) -> RequestMessage:
    """``compose`` over what a channel shows of a request (its policy, its effects)."""
    problem = launch_problem(view.effects)
    return compose(view.request, view.policy, problem=problem, buttons=buttons)
