"""What every use case does inside its unit of work: find the policy and the person, and
record a request's new events with the effects they cause."""

from __future__ import annotations

from datetime import datetime

from bot.domain import errors
from bot.domain.effects import effects_for
from bot.domain.model import ApprovalRequest, Person, Policy
from bot.ports import UnitOfWork
from bot.service.identity import Identity


def record(
    uow: UnitOfWork, request: ApprovalRequest, now: datetime, channels: tuple[str, ...]
) -> None:
    """Write the request's new events to the audit log and their effects to the outbox."""
    events, request.events = list(request.events), []
    seqs = uow.audit.append(request.id, events, now)
    for ev, seq in zip(events, seqs, strict=True):
        uow.outbox.add(effects_for(request, ev, seq, channels), now)


def resolve(uow: UnitOfWork, who: Identity) -> Person:
    person = uow.directory.person_by_identity(who.kind, who.value) if who.is_plain() else None
    if person is None:
        raise errors.UnknownPerson(who.label())
    return person


def policy_for(uow: UnitOfWork, model_name: str) -> Policy:
    policy = uow.directory.policy_for(model_name)
    if policy is None:
        raise errors.InvalidRequest(
            f"no policy for model {model_name!r} and no '*' default policy: "
            "add one with `approval-bot apply -f`"
        )
    return policy
