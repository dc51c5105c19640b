"""Who a reminder or an escalation calls on."""

from __future__ import annotations

from bot.domain.directory import Directory
from bot.domain.model import ApprovalRequest, Group, Person, Policy


def to_remind(
    request: ApprovalRequest,
    policy: Policy | None,
    directory: Directory,
    *,
    escalated_to: str | None = None,
) -> tuple[list[Person], list[Group]]:
    """The people (and groups) a reminder mentions: the members of the groups whose rules are
    not met yet who have not voted, never the requester; an escalation, the members of the
    escalation group."""
    if escalated_to is not None:
        groups = [g for g in directory.groups if g.name == escalated_to]
        members = {m for g in groups for m in g.members}
        return [p for p in directory.people if p.name in members], groups
    if policy is None or not request.is_pending:
        return [], []
    missing = {g for g, _n in request.missing_groups(policy)}
    groups = [g for g in directory.groups if g.name in missing]
    voted = {v.person for v in request.votes}
    names = {m for g in groups for m in g.members} - voted
    people = [p for p in directory.people if p.name in names and not request.is_requester(p)]
    return people, groups
