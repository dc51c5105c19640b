from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.quorum import Rule, assign, quorum_met

LEADS_AND_SRE = (Rule("ml-leads", 1), Rule("sre", 1))


def test_one_person_in_two_groups_cannot_meet_two_rules_alone():
    assert not quorum_met(LEADS_AND_SRE, {"bob": ["ml-leads", "sre"]})


def test_two_people_meet_two_rules():
    assert quorum_met(LEADS_AND_SRE, {"bob": ["ml-leads", "sre"], "carol": ["sre"]})


def test_assignment_moves_a_flexible_person_to_where_they_are_needed():
    # bob could fill either; alice only ml-leads: bob must go to sre.
    progress = assign(LEADS_AND_SRE, {"alice": ["ml-leads"], "bob": ["ml-leads", "sre"]})
    assert [(p.group, p.people) for p in progress] == [("ml-leads", ("alice",)), ("sre", ("bob",))]


def test_min_approvals_counts_distinct_people():
    rules = (Rule("ml-leads", 2),)
    assert not quorum_met(rules, {"alice": ["ml-leads"]})
    assert quorum_met(rules, {"alice": ["ml-leads"], "bob": ["ml-leads"]})


def test_no_rules_is_never_met():
    assert not quorum_met((), {"alice": ["x"]})


def _brute_force(rules, approvers) -> bool:
    slots = [r.group for r in rules for _ in range(r.min_approvals)]
    people = list(approvers)
    if len(people) < len(slots):
        return False
    for chosen in itertools.permutations(people, len(slots)):
        if all(g in approvers[p] for p, g in zip(chosen, slots, strict=True)):
            return True
    return False


GROUPS = ["a", "b", "c"]


@given(
    rules=st.lists(
        st.builds(Rule, st.sampled_from(GROUPS), st.integers(1, 2)),
        min_size=1,
        max_size=3,
        unique_by=lambda r: r.group,
    ),
    approvers=st.dictionaries(
        st.sampled_from(["p1", "p2", "p3", "p4", "p5"]),
        st.frozensets(st.sampled_from(GROUPS)),
        max_size=5,
    ),
)
def test_matching_agrees_with_brute_force(rules, approvers):
    assert quorum_met(rules, approvers) == _brute_force(rules, approvers)
    progress = assign(rules, approvers)
    counted = [p for rp in progress for p in rp.people]
    assert len(counted) == len(set(counted)), "a person counted for two rules"
