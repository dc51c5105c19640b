"""Queries: the read models the API, the CLI, the chat channels and the console show.

Nothing here changes anything; each call reads in one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from bot.domain import errors
from bot.domain.audit import AuditRecord
from bot.domain.effects import is_chat
from bot.domain.model import ApprovalRequest, Person, Policy, State
from bot.domain.names import OutboxState
from bot.ports import Directory, OutboxItem, RequestFilter, UnitOfWorkFactory
from bot.service.identity import Identity


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests by state and outbox rows by state (for the metrics)."""

    requests: dict[str, int]
    outbox: dict[str, int]


class Queries:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    # -- requests -------------------------------------------------------------

    def get(self, request_id: str) -> ApprovalRequest:
        with self.uow(readonly=True) as uow:
            request = uow.requests.get(request_id)
        if request is None:
            raise errors.UnknownRequest(request_id)
        return request

    def get_with_policy(self, request_id: str) -> tuple[ApprovalRequest, Policy | None]:
        with self.uow(readonly=True) as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise errors.UnknownRequest(request_id)
            return request, uow.directory.policy_for(request.model_name)

    def search(self, flt: RequestFilter) -> list[ApprovalRequest]:
        with self.uow(readonly=True) as uow:
            return uow.requests.search(flt)

    def pages(self, flt: RequestFilter, size: int = 200) -> Iterator[list[ApprovalRequest]]:
        """Every request ``flt`` matches, oldest first, ``size`` at a time (one read each):
        memory stays flat however many there are."""
        after = flt.after_id
        while True:
            page = self.search(replace(flt, limit=size, after_id=after, newest_first=False))
            if page:
                yield page
            if len(page) < size:
                return
            after = (page[-1].created_at, page[-1].id)

    def pending(self) -> list[ApprovalRequest]:
        return self.search(RequestFilter(state=State.PENDING))

    def in_state(self, state: State, limit: int = 100) -> list[ApprovalRequest]:
        with self.uow(readonly=True) as uow:
            return uow.requests.in_state(state, limit)

    def history(self, requests: Sequence[ApprovalRequest]) -> dict[str, list[AuditRecord]]:
        """The audit events of each request, oldest first."""
        ids = [r.id for r in requests]
        out: dict[str, list[AuditRecord]] = {i: [] for i in ids}
        if not ids:
            return out
        with self.uow(readonly=True) as uow:
            for rec in uow.audit.records(request_ids=ids):
                if rec.request_id is not None:
                    out[rec.request_id].append(rec)
        return out

    # -- people ---------------------------------------------------------------

    def directory(self) -> Directory:
        with self.uow(readonly=True) as uow:
            return uow.directory.load()

    def reader(self, who: Identity) -> Person:
        """The person behind ``who``, who may read requests; ``UnknownPerson`` otherwise.

        Every channel asks this before answering a read command (pending, show, history,
        audit): requests are read by enrolled people only.
        """
        with self.uow(readonly=True) as uow:
            person = uow.directory.person_by_identity(who.kind, who.value)
        if person is None:
            raise errors.UnknownPerson(who.label())
        return person

    def whoami(self, who: Identity) -> tuple[Person | None, frozenset[str]]:
        with self.uow(readonly=True) as uow:
            person = uow.directory.person_by_identity(who.kind, who.value)
            groups = uow.directory.groups_of(person.name) if person else frozenset()
        return person, groups

    def people_to_remind(self, request_id: str) -> list[Person]:
        """Members of the groups whose rules are not met yet, who have not voted."""
        with self.uow(readonly=True) as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise errors.UnknownRequest(request_id)
            policy = uow.directory.policy_for(request.model_name)
            directory = uow.directory.load()
        if policy is None or not request.is_pending:
            return []
        missing = {g for g, _n in request.missing_groups(policy)}
        voted = {v.person for v in request.votes}
        names = {m for g in directory.groups if g.name in missing for m in g.members} - voted
        return [p for p in directory.people if p.name in names and not request.is_requester(p)]

    def group_people(self, group: str) -> list[Person]:
        directory = self.directory()
        members = next((g.members for g in directory.groups if g.name == group), frozenset())
        return [p for p in directory.people if p.name in members]

    # -- effects ----------------------------------------------------------------

    def effects(self, requests: Sequence[ApprovalRequest]) -> dict[str, list[OutboxItem]]:
        """The decision effects of each request (MLflow, the promotion), with their state."""
        ids = [r.id for r in requests]
        out: dict[str, list[OutboxItem]] = {i: [] for i in ids}
        with self.uow(readonly=True) as uow:
            for item in uow.outbox.for_requests(ids):
                if item.request_id is not None and not is_chat(item.kind):
                    out[item.request_id].append(item)
        return out

    def outbox_items(self, state: OutboxState | None = None, limit: int = 100) -> list[OutboxItem]:
        with self.uow(readonly=True) as uow:
            return uow.outbox.items(state=state, limit=limit)

    def counts(self) -> Counts:
        with self.uow(readonly=True) as uow:
            return Counts(uow.requests.count_by_state(), uow.outbox.counts())
