from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import errors
from bot.domain.effects import ARCHIVE_CHALLENGER, LAUNCH_PROMOTION, LOG_DECISION, effects_for
from bot.domain.model import (
    SYSTEM_DEADLINE,
    ApprovalRequest,
    ExpiryAction,
    GateResult,
    Person,
    Policy,
    State,
    VoteKind,
)
from bot.domain.quorum import Rule

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ALICE = Person.of("alice", slack="U01ALICE", telegram=1001, email="alice@example.com")
BOB = Person.of("bob", slack="U02BOB")
CAROL = Person.of("carol", slack="U03CAROL")
GROUPS = {
    "alice": frozenset({"ml-leads"}),
    "bob": frozenset({"ml-leads", "sre"}),
    "carol": frozenset({"sre"}),
}
POLICY = Policy(
    model="*",
    rules=(Rule("ml-leads", 1), Rule("sre", 1)),
    deadline=timedelta(hours=48),
    remind_every=timedelta(hours=12),
    escalate_after=timedelta(hours=24),
    escalate_to="sre",
)
PASSED = (GateResult("latency_p99_ms", 2.3, 100, "<=", True),)
FAILED = (GateResult("disagreement_rate", 0.2, 0.05, "<", False),)


def new(policy: Policy = POLICY, gates=PASSED, requested_by="alice") -> ApprovalRequest:
    return ApprovalRequest.submit(
        model_name="iris",
        model_version="3",
        requested_by=requested_by,
        policy=policy,
        now=T0,
        gates=gates,
    )


def vote(req, person, kind=VoteKind.APPROVE, comment=None, policy=POLICY, at=T0):
    return req.cast_vote(
        person=person,
        person_groups=GROUPS.get(person.name, frozenset()),
        vote=kind,
        policy=policy,
        now=at,
        channel="cli",
        comment=comment,
    )


def test_submission_computes_deadline_reminder_and_escalation():
    r = new()
    assert r.state is State.PENDING
    assert r.deadline_at == T0 + timedelta(hours=48)
    assert r.next_reminder_at == T0 + timedelta(hours=12)
    assert r.escalate_at == T0 + timedelta(hours=24)
    assert len(r.id) <= 16 and r.id.isalnum()
    assert [e.kind for e in r.events] == ["submitted"]


def test_quorum_by_distinct_people_approves():
    r = new()
    vote(r, BOB)
    assert r.is_pending, "bob alone is in both groups but counts once"
    vote(r, CAROL)
    assert r.state is State.APPROVED
    assert r.decided_by == "bob,carol"
    assert "quorum met" in (r.reason or "")


def test_reject_by_eligible_person_ends_it_and_needs_a_reason():
    r = new()
    with pytest.raises(errors.ReasonRequired):
        vote(r, BOB, VoteKind.REJECT, comment="   ")
    assert r.votes == [] and r.is_pending
    vote(r, BOB, VoteKind.REJECT, comment="accuracy regressed on setosa")
    assert r.state is State.REJECTED and r.reason == "accuracy regressed on setosa"


def test_reason_optional_when_policy_says_so():
    policy = Policy(model="*", rules=POLICY.rules, reject_reason_required=False)
    r = new(policy)
    vote(r, BOB, VoteKind.REJECT, policy=policy)
    assert r.state is State.REJECTED


def test_self_approval_refused_unless_allowed():
    r = new()
    with pytest.raises(errors.SelfApproval, match="alice requested"):
        vote(r, ALICE)
    allowed = Policy(model="*", rules=POLICY.rules, allow_self_approval=True)
    r2 = new(allowed)
    vote(r2, ALICE, policy=allowed)
    assert [v.person for v in r2.votes] == ["alice"]


def test_requester_matched_by_any_identity():
    r = new(requested_by="U01ALICE")
    with pytest.raises(errors.SelfApproval):
        vote(r, ALICE)


def test_not_eligible_names_the_groups():
    r = new()
    dave = Person("dave")
    with pytest.raises(errors.NotEligible, match=r"ml-leads, sre"):
        vote(r, dave)
    assert r.votes == []


def test_one_vote_per_person():
    r = new()
    vote(r, BOB)
    with pytest.raises(errors.AlreadyVoted):
        vote(r, BOB)
    with pytest.raises(errors.AlreadyVoted):
        vote(r, BOB, VoteKind.REJECT, comment="changed my mind")
    assert len(r.votes) == 1


def test_nothing_accepted_after_a_decision():
    r = new()
    vote(r, BOB, VoteKind.REJECT, comment="no")
    with pytest.raises(errors.AlreadyDecided, match="already rejected by bob"):
        vote(r, CAROL)
    with pytest.raises(errors.AlreadyDecided):
        r.expire(policy=POLICY, now=T0 + timedelta(days=3))
    with pytest.raises(errors.AlreadyDecided):
        r.supersede(by_request="x", now=T0)
    assert r.state is State.REJECTED


def test_failed_gates_block_approval_without_override():
    r = new(gates=FAILED)
    with pytest.raises(errors.FailedGatesNotOverridable, match="disagreement_rate"):
        vote(r, BOB)
    vote(r, BOB, VoteKind.REJECT, comment="gates failed")
    assert r.state is State.REJECTED


def test_failed_gates_override_is_recorded():
    policy = Policy(model="*", rules=POLICY.rules, allow_override_failed_gates=True)
    r = new(policy, gates=FAILED)
    vote(r, BOB, policy=policy)
    vote(r, CAROL, policy=policy)
    assert r.state is State.APPROVED and r.override
    assert all(v.override for v in r.votes)
    decided = next(e for e in r.events if e.kind == "decided")
    assert decided.data["override_failed_gates"] == ["disagreement_rate"]


def test_expiry_is_a_system_decision_with_the_policy_action():
    r = new()
    with pytest.raises(errors.Refused):
        r.expire(policy=POLICY, now=T0 + timedelta(hours=47))
    vote(r, BOB)
    r.expire(policy=POLICY, now=T0 + timedelta(hours=48))
    assert r.state is State.EXPIRED and r.decided_by == SYSTEM_DEADLINE
    assert r.expiry_action is ExpiryAction.ARCHIVE
    assert "1 more from sre" in (r.reason or "")


def test_reminders_then_escalation_once():
    r = new()
    assert not r.remind(policy=POLICY, now=T0 + timedelta(hours=11))
    assert r.remind(policy=POLICY, now=T0 + timedelta(hours=12))
    assert r.next_reminder_at == T0 + timedelta(hours=24)
    assert r.escalate(policy=POLICY, now=T0 + timedelta(hours=24))
    assert not r.escalate(policy=POLICY, now=T0 + timedelta(hours=25))
    assert r.remind(policy=POLICY, now=T0 + timedelta(hours=36))
    assert r.next_reminder_at is None, "no reminder at or after the deadline"


def test_supersede():
    r = new()
    r.supersede(by_request="newer", now=T0)
    assert r.state is State.SUPERSEDED and "newer" in (r.reason or "")


def test_promotion_moves_forward_only():
    r = new()
    vote(r, BOB)
    vote(r, CAROL)
    r.start_promotion(run_id="run-1", now=T0)
    assert r.state is State.PROMOTING and r.decision is State.APPROVED
    r.finish_promotion(succeeded=True, detail="SUCCEEDED", now=T0)
    assert r.state is State.PROMOTED and r.decision is State.APPROVED
    with pytest.raises(errors.AlreadyDecided):
        r.finish_promotion(succeeded=False, detail="again", now=T0)


def test_gate_sentinel_and_validation():
    g = GateResult("challenger_accuracy", 0.96, -1.0, ">=", True)
    assert g.no_champion and "no champion yet" in g.describe()
    with pytest.raises(ValueError, match="op must be"):
        GateResult("x", 1, 1, "=>", True)
    with pytest.raises(ValueError, match="finite"):
        GateResult("x", float("nan"), 1, "<", True)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (ExpiryAction.ARCHIVE, "archived"),
        (ExpiryAction.REJECT, "rejected"),
        (ExpiryAction.KEEP, None),
    ],
)
def test_decision_effects(action, expected):
    policy = Policy(model="*", rules=POLICY.rules, on_expiry=action)
    r = new(policy)
    r.events.clear()
    r.expire(policy=policy, now=T0 + timedelta(days=3))
    effs = [e for ev in r.events for e in effects_for(r, ev, 1, ("slack",))]
    kinds = {e.kind for e in effs}
    assert LOG_DECISION in kinds and LAUNCH_PROMOTION not in kinds
    archive = [e for e in effs if e.kind == ARCHIVE_CHALLENGER]
    assert [e.payload["alias"] for e in archive] == ([expected] if expected else [])


def test_approval_launches_promotion_once():
    r = new()
    vote(r, BOB)
    vote(r, CAROL)
    effs = [e for i, ev in enumerate(r.events) for e in effects_for(r, ev, i, ("slack",))]
    assert [e.kind for e in effs].count(LAUNCH_PROMOTION) == 1
    assert len({e.key for e in effs}) == len(effs)


def test_superseded_request_logs_no_decision():
    r = new()
    r.events.clear()
    r.supersede(by_request="newer", now=T0)
    kinds = {e.kind for ev in r.events for e in effects_for(r, ev, 1, ("slack",))}
    assert kinds == {"chat.update"}
