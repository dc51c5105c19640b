"""Queries: the read models the API, the CLI, the chat channels and the console show.

Nothing here changes anything; each call reads in one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain import errors
from bot.domain.access import ReadAccess
from bot.domain.audit import AuditRecord
from bot.domain.directory import Directory
from bot.domain.divergence import Divergence
from bot.domain.evidence import EvidenceInfo, Picture
from bot.domain.model import ApprovalRequest, Person, Policy, State
from bot.domain.names import OutboxState, is_chat
from bot.domain.outbox import OutboxItem
from bot.ports.store import RequestFilter, UnitOfWork, UnitOfWorkFactory
from bot.service.identity import Identity, IdentityKinds
from bot.service.schemas import checked_filter, plain_or_unknown


@dataclass(frozen=True, slots=True)
class MessageView:
    """What a chat channel renders a request's message from, read at once."""

    request: ApprovalRequest
    policy: Policy | None
    effects: list[OutboxItem]
    ref: dict[str, Any] | None  # where the channel shows it; None: not posted yet


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests by state and outbox rows by state (for the metrics)."""

    requests: dict[str, int]
    outbox: dict[str, int]
    diverged: dict[str, bool] = field(default_factory=dict)  # model -> open (docs/watch.md)


class Queries:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        read_access: ReadAccess | None = None,
        identities: IdentityKinds | None = None,
    ) -> None:
        self.uow = uow
        self.read_access = read_access or ReadAccess()
        self.identities = identities or IdentityKinds()

    # -- requests -------------------------------------------------------------

    def get(self, request_id: str) -> ApprovalRequest:
        plain_or_unknown(request_id)
        with self.uow(readonly=True) as uow:
            request = uow.requests.get(request_id)
        if request is None:
            raise errors.UnknownRequest(request_id)
        return request

    def evidence(self, request_id: str) -> list[EvidenceInfo]:
        """The request's pictures, without their bytes (an unknown request has none)."""
        plain_or_unknown(request_id)
        with self.uow(readonly=True) as uow:
            return uow.evidence.listed(request_id)

    def picture(self, request_id: str, index: int) -> Picture:
        plain_or_unknown(request_id)
        with self.uow(readonly=True) as uow:
            found = uow.evidence.picture(request_id, index)
        if found is None:
            raise errors.NotFound(f"request {request_id} has no picture {index}")
        return found

    def message(self, request_id: str, channel: str) -> MessageView:
        """The request, its policy, its decision effects and where ``channel`` shows it, in
        one read (a chat delivery's whole question to the database)."""
        with self.uow(readonly=True) as uow:
            return message_view(uow, request_id, channel)

    def get_with_policy(self, request_id: str) -> tuple[ApprovalRequest, Policy | None]:
        plain_or_unknown(request_id)
        with self.uow(readonly=True) as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise errors.UnknownRequest(request_id)
            return request, uow.directory.policy_for(request.model_name)

    def search(self, flt: RequestFilter) -> list[ApprovalRequest]:
        checked_filter("model", flt.model)
        checked_filter("approver", flt.approver)
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

    def newer_approval(self, request: ApprovalRequest) -> ApprovalRequest | None:
        """The model's latest approval when it is newer than ``request``, else None.

        Only the latest approval of a model may be promoted: an older one re-run would
        move @champion back (the promotion pipeline's guard asks for this). Approvals of
        one model come in submission order (a newer submission supersedes a pending one).
        """
        latest = self.search(
            RequestFilter(
                model=request.model_name,
                decision=State.APPROVED,
                newest_first=True,
                limit=1,
            )
        )
        if not latest or latest[0].id == request.id:
            return None
        newest = latest[0]
        return newest if (newest.created_at, newest.id) > (request.created_at, request.id) else None

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
        audit). Who may read is the setting's (``ReadAccess``; enrolled people by default);
        with ``anyone``, someone not enrolled reads as their channel id.
        """
        person, groups = self.whoami(who)
        if person is None:
            if self.read_access.anyone:
                return Person(who.label())
            raise errors.UnknownPerson(who.label())
        if not self.read_access.allows(groups):
            raise errors.NotAReader(person.name, self.read_access.describe())
        return person

    def whoami(self, who: Identity) -> tuple[Person | None, frozenset[str]]:
        kind = self.identities.of(who.channel)
        value = kind.canonical(who.value) if who.is_plain() else None
        if value is None:
            return None, frozenset()
        with self.uow(readonly=True) as uow:
            person = uow.directory.person_by_identity(kind.name, value)
            groups = uow.directory.groups_of(person.name) if person else frozenset()
        return person, groups

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

    def open_divergences(self) -> list[Divergence]:
        """What the serving watch saw differ and is not resolved yet (docs/watch.md)."""
        with self.uow(readonly=True) as uow:
            return uow.divergences.open_all()

    def counts(self) -> Counts:
        with self.uow(readonly=True) as uow:
            return Counts(
                uow.requests.count_by_state(), uow.outbox.counts(), uow.divergences.states()
            )


def message_view(uow: UnitOfWork, request_id: str, channel: str) -> MessageView:
    """The request, its policy, its decision effects and where ``channel`` shows it."""
    request = uow.requests.get(request_id)
    if request is None:
        raise errors.UnknownRequest(request_id)
    effects = [i for i in uow.outbox.for_requests([request_id]) if not is_chat(i.kind)]
    policy = uow.directory.policy_for(request.model_name)
    return MessageView(request, policy, effects, uow.chat.get(request_id, channel))
