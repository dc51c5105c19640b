"""The approval request, its votes, the people who cast them and the policy.

Pure Python: no I/O. The service layer loads these, calls a method, and saves
what changed together with the events the method recorded.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import errors
from bot.domain.events import Event
from bot.domain.gates import GATE_OPS, NO_CHAMPION, GateResult
from bot.domain.lookalike import resembles
from bot.domain.names import SYSTEM, SYSTEM_DEADLINE, EventKind
from bot.domain.people import Group, Person
from bot.domain.policy import ExpiryAction, Policy
from bot.domain.quorum import RuleProgress, assign
from bot.domain.rollout import Canary
from bot.domain.states import (
    APPROVED_LIKE,
    DECIDED,
    DECISION_FILTERS,
    DECISIONS,
    TRANSITIONS,
    State,
    states_for_decision,
)
from bot.domain.votes import Vote, VoteKind
from bot.domain.window import VetoWindow, opens

PROMOTION_DETAIL_MAX = 500  # characters of a promotion run's last word kept on the request

# Re-exported: callers import the aggregate's vocabulary from here.
__all__ = [
    "APPROVED_LIKE",
    "DECIDED",
    "DECISIONS",
    "DECISION_FILTERS",
    "GATE_OPS",
    "NO_CHAMPION",
    "SYSTEM",
    "SYSTEM_DEADLINE",
    "ApprovalRequest",
    "Event",
    "ExpiryAction",
    "GateResult",
    "Group",
    "Person",
    "Policy",
    "State",
    "Vote",
    "VoteKind",
    "new_request_id",
    "states_for_decision",
]


_ID_ALPHABET = string.ascii_lowercase + string.digits


def _with_canary(promotion: dict[str, Any] | None, policy: Policy) -> dict[str, Any]:
    """What the submission asked of the promotion, and the canary its policy asks for: kept
    on the request (``promotion["canary"]``), so the launch promotes as the policy said when
    it was submitted (bot/adapters/kfp/params.py; docs/kserve.md, "Canary")."""
    out = dict(promotion or {})
    if policy.canary is not None:
        out["canary"] = policy.canary.as_json()
    return out


def new_request_id() -> str:
    """Short, URL- and callback-safe id (10 chars of [a-z0-9])."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


@dataclass(slots=True)
class ApprovalRequest(VetoWindow, Canary):
    id: str
    model_name: str
    model_version: str
    requested_by: str
    created_at: datetime
    deadline_at: datetime
    challenger_run_id: str | None = None
    data_run_id: str | None = None
    staging_run_id: str | None = None
    gates: tuple[GateResult, ...] = ()
    links: dict[str, str] = field(default_factory=dict)
    promotion: dict[str, Any] = field(default_factory=dict)
    state: State = State.PENDING
    votes: list[Vote] = field(default_factory=list)
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    override: bool = False
    expiry_action: ExpiryAction | None = None
    next_reminder_at: datetime | None = None
    reminders_sent: int = 0
    escalate_at: datetime | None = None
    escalated_at: datetime | None = None
    promotion_run_id: str | None = None
    promotion_detail: str | None = None  # how the promotion ended (its run's own words)
    auto_approve_at: datetime | None = None  # the veto window's end (bot/domain/window.py)
    auto_approve_policy: str | None = None  # the policy whose window it is
    rollout: dict[str, Any] | None = None  # a canary's progress and control (domain/rollout.py)
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    # -- creation ---------------------------------------------------------

    @classmethod
    def submit(
        cls,
        *,
        model_name: str,
        model_version: str,
        requested_by: str,
        policy: Policy,
        now: datetime,
        request_id: str | None = None,
        challenger_run_id: str | None = None,
        data_run_id: str | None = None,
        staging_run_id: str | None = None,
        gates: tuple[GateResult, ...] = (),
        links: dict[str, str] | None = None,
        promotion: dict[str, Any] | None = None,
    ) -> ApprovalRequest:
        deadline = now + policy.deadline
        auto = opens(policy, gates, now, deadline)  # a veto window: no reminders, escalation
        remind = now + policy.remind_every if policy.remind_every and not auto else None
        escalate = (
            now + policy.escalate_after
            if policy.escalate_after and policy.escalate_to and not auto
            else None
        )
        req = cls(
            id=request_id or new_request_id(),
            model_name=model_name,
            model_version=model_version,
            requested_by=requested_by,
            created_at=now,
            deadline_at=deadline,
            challenger_run_id=challenger_run_id,
            data_run_id=data_run_id,
            staging_run_id=staging_run_id,
            gates=gates,
            links=dict(links or {}),
            promotion=_with_canary(promotion, policy),
            next_reminder_at=remind if remind and remind < deadline else None,
            escalate_at=escalate if escalate and escalate < deadline else None,
            auto_approve_at=auto,
            auto_approve_policy=policy.model if auto else None,
        )
        req.events.append(
            Event(
                EventKind.SUBMITTED,
                requested_by,
                {
                    "model_name": model_name,
                    "model_version": model_version,
                    "gates": [g.to_dict() for g in gates],
                    "deadline_at": deadline.isoformat(),
                    "policy": policy.model,
                    **({"auto_approve_at": auto.isoformat()} if auto else {}),
                    **({"canary": policy.canary.as_json()} if policy.canary else {}),
                },
            )
        )
        return req

    # -- queries ----------------------------------------------------------

    @property
    def subject(self) -> str:
        """The request its events concern (``Aggregate``)."""
        return self.id

    @property
    def is_pending(self) -> bool:
        return self.state is State.PENDING

    @property
    def decision(self) -> State | None:
        """The terminal decision; promotion progress does not change it."""
        if self.state is State.PENDING:
            return None
        return State.APPROVED if self.state in APPROVED_LIKE else self.state

    @property
    def failed_gates(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if not g.passed)

    def vote_of(self, person: str) -> Vote | None:
        return next((v for v in self.votes if v.person == person), None)

    def approvals(self) -> dict[str, tuple[str, ...]]:
        return {v.person: v.groups for v in self.votes if v.vote is VoteKind.APPROVE}

    def progress(self, policy: Policy) -> list[RuleProgress]:
        return assign(policy.rules, self.approvals())

    def quorum_met(self, policy: Policy) -> bool:
        return bool(policy.rules) and all(p.met for p in self.progress(policy))

    def missing_groups(self, policy: Policy) -> list[tuple[str, int]]:
        """(group, how many more approvals) for each rule not met yet."""
        return [
            (p.group, p.min_approvals - p.approvals) for p in self.progress(policy) if not p.met
        ]

    def is_requester(self, person: Person) -> bool:
        return person.answers_to(self.requested_by) or resembles(person, self.requested_by)

    # -- commands ---------------------------------------------------------

    def _move(self, to: State) -> None:
        allowed = TRANSITIONS.get(self.state, frozenset())
        if to not in allowed:
            raise errors.AlreadyDecided(self._decided_message())

    def _decided_message(self) -> str:
        who = f" by {self.decided_by}" if self.decided_by else ""
        when = f" at {self.decided_at:%Y-%m-%d %H:%M} UTC" if self.decided_at else ""
        return f"request {self.id} is already {self.state.value}{who}{when}; nothing changed"

    def cast_vote(
        self,
        *,
        person: Person,
        person_groups: frozenset[str],
        vote: VoteKind,
        policy: Policy,
        now: datetime,
        channel: str,
        comment: str | None = None,
    ) -> Vote:
        """Record one person's vote; decide the request when the rules say so.

        Raises a ``Refused`` subclass, changing nothing, when the vote is not
        allowed. The order of checks matters for the message a person sees.
        """
        eligible = self._eligible_groups(person, person_groups, policy)
        comment = (comment or "").strip() or None
        override = self._check_vote(person, vote, policy, comment)
        cast = Vote(
            person=person.name,
            vote=vote,
            channel=channel,
            at=now,
            comment=comment,
            groups=eligible,
            override=override,
        )
        self.votes.append(cast)
        self.events.append(Event(EventKind.VOTED, person.name, cast.to_dict()))
        if vote is VoteKind.REJECT:
            self._decide(State.REJECTED, by=person.name, reason=comment, now=now)
        elif self.quorum_met(policy):
            self._approve(policy, now)
        return cast

    def _eligible_groups(
        self, person: Person, person_groups: frozenset[str], policy: Policy
    ) -> tuple[str, ...]:
        """The approver groups ``person`` votes for; refused when decided, voted or none."""
        if not self.is_pending:
            raise errors.AlreadyDecided(self._decided_message())
        previous = self.vote_of(person.name)
        if previous is not None:
            raise errors.AlreadyVoted(
                f"{person.name} already voted {previous.vote.value} on request {self.id} "
                f"at {previous.at:%Y-%m-%d %H:%M} UTC; one vote per person"
            )
        eligible = tuple(sorted(policy.approver_groups & person_groups))
        if not eligible:
            needed = ", ".join(sorted(policy.approver_groups)) or "none configured"
            raise errors.NotEligible(
                f"{person.name} may not vote on {self.model_name}: "
                f"not a member of an approver group ({needed})"
            )
        return eligible

    def _check_vote(
        self, person: Person, vote: VoteKind, policy: Policy, comment: str | None
    ) -> bool:
        """Refuse what the policy forbids; True when an approval overrides failed gates."""
        if vote is VoteKind.REJECT:
            if policy.reject_reason_required and not comment:
                raise errors.ReasonRequired("a reason is required to reject")
            return False
        if self.is_requester(person) and not policy.allow_self_approval:
            raise errors.SelfApproval(
                f"{person.name} requested {self.model_name} v{self.model_version} "
                "and may not approve it (self-approval is not allowed by the policy)"
            )
        if not self.failed_gates:
            return False
        if not policy.allow_override_failed_gates:
            names = ", ".join(g.name for g in self.failed_gates)
            raise errors.FailedGatesNotOverridable(
                f"gates failed ({names}) and the policy does not allow "
                "approving over failed gates; reject it instead"
            )
        return True

    def _approve(self, policy: Policy, now: datetime) -> None:
        self.override = any(v.override for v in self.votes)
        met = "; ".join(
            f"{p.group} {p.approvals}/{p.min_approvals} ({', '.join(p.people)})"
            for p in self.progress(policy)
        )
        by = ",".join(sorted(self.approvals()))
        self._decide(State.APPROVED, by=by, reason=f"quorum met: {met}", now=now)

    def _decide(self, to: State, *, by: str, reason: str | None, now: datetime) -> None:
        self._move(to)
        self.state = to
        self.decided_at = now
        self.decided_by = by
        self.reason = reason
        self.next_reminder_at = None
        self.escalate_at = None
        data: dict[str, Any] = {"decision": to.value, "by": by, "reason": reason}
        if self.override:
            data["override_failed_gates"] = [g.name for g in self.failed_gates]
        if self.expiry_action:
            data["expiry_action"] = self.expiry_action.value
        self.events.append(Event(EventKind.DECIDED, by, data))

    def expire(self, *, policy: Policy, now: datetime) -> None:
        """The deadline passed: a system decision, with the policy's expiry action."""
        if not self.is_pending:
            raise errors.AlreadyDecided(self._decided_message())
        if now < self.deadline_at:
            raise errors.Refused(f"request {self.id} is not due until {self.deadline_at}")
        missing = ", ".join(f"{n} more from {g}" for g, n in self.missing_groups(policy))
        self.expiry_action = policy.on_expiry
        self.events.append(Event(EventKind.EXPIRED, SYSTEM_DEADLINE, {"missing": missing}))
        self._decide(
            State.EXPIRED,
            by=SYSTEM_DEADLINE,
            reason=f"deadline passed without quorum ({missing or 'no rules'})",
            now=now,
        )

    def supersede(self, *, by_request: str, now: datetime) -> None:
        if not self.is_pending:
            raise errors.AlreadyDecided(self._decided_message())
        self.events.append(Event(EventKind.SUPERSEDED, SYSTEM, {"by_request": by_request}))
        self._decide(
            State.SUPERSEDED, by=SYSTEM, reason=f"superseded by request {by_request}", now=now
        )

    def cancel(self, *, by: str, reason: str, now: datetime) -> None:
        if not self.is_pending:
            raise errors.AlreadyDecided(self._decided_message())
        self._decide(State.CANCELLED, by=by, reason=reason, now=now)

    def remind(self, *, policy: Policy, now: datetime) -> bool:
        """Note a reminder if one is due; True when it was."""
        if not self.is_pending or self.next_reminder_at is None or now < self.next_reminder_at:
            return False
        self.reminders_sent += 1
        nxt = now + policy.remind_every if policy.remind_every else None
        self.next_reminder_at = nxt if nxt and nxt < self.deadline_at else None
        missing = [{"group": g, "needed": n} for g, n in self.missing_groups(policy)]
        self.events.append(
            Event(EventKind.REMINDED, SYSTEM, {"count": self.reminders_sent, "missing": missing})
        )
        return True

    def escalate(self, *, policy: Policy, now: datetime) -> bool:
        if (
            not self.is_pending
            or self.escalate_at is None
            or self.escalated_at is not None
            or now < self.escalate_at
        ):
            return False
        self.escalated_at = now
        self.escalate_at = None
        self.events.append(Event(EventKind.ESCALATED, SYSTEM, {"to": policy.escalate_to}))
        return True

    def refused(self, *, actor: str, vote: VoteKind, error: errors.DomainError) -> None:
        """A vote on this request was refused: nothing changes but the record of it."""
        data = {"vote": vote.value, "why": error.code, "message": error.message}
        self.events.append(Event(EventKind.DENIED, actor, data))

    def observed(self, kind: EventKind, data: dict[str, Any]) -> None:
        """Something a system saw happen to this request (e.g. the challenger moved on)."""
        self.events.append(Event(kind, SYSTEM, data))

    def start_promotion(self, *, run_id: str, now: datetime) -> None:
        self._move(State.PROMOTING)
        self.state = State.PROMOTING
        self.promotion_run_id = run_id
        self.events.append(Event(EventKind.PROMOTION_STARTED, SYSTEM, {"run_id": run_id}))

    def finish_promotion(self, *, succeeded: bool, detail: str, now: datetime) -> None:
        to = State.PROMOTED if succeeded else State.PROMOTION_FAILED
        self._move(to)
        self.state = to
        self.promotion_detail = detail[:PROMOTION_DETAIL_MAX]
        self.events.append(
            Event(EventKind.PROMOTION_FINISHED, SYSTEM, {"state": to.value, "detail": detail})
        )
