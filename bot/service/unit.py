"""What every use case does inside its unit of work: find the policy and the person, and
record a request's new events with the effects they cause."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import errors
from bot.domain.effects import effects_for, one_update_each
from bot.domain.model import ApprovalRequest, Event, Person, Policy
from bot.ports import UnitOfWork
from bot.service.identity import Identity


def record(
    uow: UnitOfWork,
    requests: ApprovalRequest | Sequence[ApprovalRequest],
    now: datetime,
    channels: tuple[str, ...],
) -> None:
    """Write the requests' new events to the audit log and their effects to the outbox.

    One statement each, effects first: appending to the hash chain takes the log's one lock,
    which every writer waits for until this transaction commits, so it comes last.
    """
    entries: list[tuple[str | None, Event]] = []
    effects = []
    for request in [requests] if isinstance(requests, ApprovalRequest) else requests:
        events, request.events = list(request.events), []
        entries += [(request.id, ev) for ev in events]
        effects += [e for ev in events for e in effects_for(request, ev, ev.id, channels)]
    uow.outbox.add(one_update_each(effects), now)
    uow.audit.append_all(entries, now)


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
