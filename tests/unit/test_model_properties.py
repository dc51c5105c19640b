"""Invariants of the request state machine under any sequence of actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import errors
from bot.domain.model import DECISIONS, ApprovalRequest, Person, Policy, State, VoteKind
from bot.domain.quorum import Rule, quorum_met

T0 = datetime(2026, 1, 5, tzinfo=UTC)
PEOPLE = {
    "alice": frozenset({"ml-leads"}),
    "bob": frozenset({"ml-leads", "sre"}),
    "carol": frozenset({"sre"}),
    "dave": frozenset(),
    "erin": frozenset({"sre"}),
}

action = st.one_of(
    st.tuples(
        st.just("vote"),
        st.sampled_from(sorted(PEOPLE)),
        st.sampled_from(list(VoteKind)),
        st.sampled_from([None, "", "because"]),
    ),
    st.tuples(st.just("expire"), st.integers(0, 72)),
    st.tuples(st.just("supersede")),
    st.tuples(st.just("remind"), st.integers(0, 72)),
)

policies = st.builds(
    Policy,
    model=st.just("*"),
    rules=st.lists(
        st.builds(Rule, st.sampled_from(["ml-leads", "sre"]), st.integers(1, 2)),
        min_size=1,
        max_size=2,
        unique_by=lambda r: r.group,
    ).map(tuple),
    allow_self_approval=st.booleans(),
    reject_reason_required=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(policy=policies, actions=st.lists(action, max_size=12))
def test_invariants(policy, actions):
    r = ApprovalRequest.submit(
        model_name="m", model_version="1", requested_by="alice", policy=policy, now=T0
    )
    decided_state = None
    for act in actions:
        before = (r.state, len(r.votes), r.decided_at)
        try:
            if act[0] == "vote":
                _, who, kind, comment = act
                r.cast_vote(
                    person=Person(who),
                    person_groups=PEOPLE[who],
                    vote=kind,
                    policy=policy,
                    now=T0,
                    channel="cli",
                    comment=comment,
                )
            elif act[0] == "expire":
                r.expire(policy=policy, now=T0 + timedelta(hours=act[1]))
            elif act[0] == "supersede":
                r.supersede(by_request="next", now=T0)
            else:
                r.remind(policy=policy, now=T0 + timedelta(hours=act[1]))
        except errors.Refused:
            # A refused action changes nothing.
            assert (r.state, len(r.votes), r.decided_at) == before
        if decided_state is not None:
            # A terminal state never changes and nothing is accepted after it.
            assert r.state is decided_state
            assert len(r.votes) == before[1]
        elif r.state in DECISIONS:
            decided_state = r.state
        if r.state is State.APPROVED:
            approvals = {v.person: v.groups for v in r.votes if v.vote is VoteKind.APPROVE}
            assert quorum_met(policy.rules, approvals)
        # No vote counts twice.
        people = [v.person for v in r.votes]
        assert len(people) == len(set(people))
        decided_events = [e for e in r.events if e.kind == "decided"]
        assert len(decided_events) == (0 if r.state is State.PENDING else 1)
    if r.state is State.APPROVED:
        assert all(
            v.person != "alice" or policy.allow_self_approval
            for v in r.votes
            if v.vote is VoteKind.APPROVE
        )
