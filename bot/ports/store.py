"""The store: the repositories and the unit of work the use cases run in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bot.domain.audit import AuditCheck, AuditHead, AuditRecord
from bot.domain.directory import Directory
from bot.domain.divergence import Divergence
from bot.domain.effects import Effect
from bot.domain.events import Aggregate, Event
from bot.domain.evidence import EvidenceInfo, Picture
from bot.domain.model import ApprovalRequest, Person, Policy, State
from bot.domain.names import OutboxState
from bot.domain.outbox import DeliveryOutcome, OutboxItem, Retry
from bot.domain.pacing import Lane
from bot.domain.tokens import ApiToken


class Tracker(Protocol):
    """What a repository tells its unit of work about the domain objects it handles."""

    def track(self, aggregate: Any) -> None:
        """Record ``aggregate``'s events at commit."""
        ...

    def forget(self, aggregate: Any) -> None:
        """Do not: it was not written (a conditional save lost)."""
        ...


class DuplicateSubmission(Exception):
    """The same (model, version, staging run) was submitted concurrently."""

    def __init__(self, model_name: str, model_version: str) -> None:
        super().__init__(f"{model_name} v{model_version} was already submitted")


class StoreUnavailable(Exception):
    """The database cannot be reached (or is overloaded): nothing was changed; try again.

    The message is one line naming the reason; the unit of work has logged it already
    (once per kind of failure, until the database answers again).
    """


@dataclass(frozen=True, slots=True)
class RequestFilter:
    state: State | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    decision: State | None = None  # see ``states_for_decision``: approved covers promotion
    approver: str | None = None
    limit: int | None = None
    after_id: tuple[datetime, str] | None = None
    decided: bool = False  # only requests that are no longer pending
    newest_first: bool = False  # (``after_id`` pages oldest first only)

    def __post_init__(self) -> None:
        # Accept the states' names too (``decision="approved"``), and hold the enums.
        for name in ("state", "decision"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, State):
                object.__setattr__(self, name, State(value))


class RequestRepository(Protocol):
    """Requests it hands out or takes in are tracked: their events are recorded at commit."""

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None: ...
    def lock_due(self, request_id: str) -> ApprovalRequest | None:
        """Lock for a scan; None when another replica holds the row."""
        ...

    def add(self, request: ApprovalRequest) -> None: ...
    def save(self, request: ApprovalRequest, *, expected_state: State) -> bool:
        """Write the request back only if its stored state is still ``expected_state``."""
        ...

    def find_submission(
        self, model_name: str, model_version: str, staging_run_id: str | None
    ) -> ApprovalRequest | None: ...
    def lock_model(self, model_name: str) -> None:
        """Serialise submissions for one model until the transaction ends."""
        ...

    def pending_for_model(self, model_name: str) -> list[ApprovalRequest]: ...
    def search(self, flt: RequestFilter) -> list[ApprovalRequest]: ...
    def due_ids(self, now: datetime, limit: int) -> list[str]: ...
    def in_state(self, state: State, limit: int = 100) -> list[ApprovalRequest]: ...
    def count_by_state(self) -> dict[str, int]: ...


class DirectoryRepository(Protocol):
    def load(self) -> Directory: ...
    def person_by_identity(self, kind: str, value: str) -> Person | None:
        """The person with this identity (``value`` in its kind's canonical form)."""
        ...

    def groups_of(self, person: str) -> frozenset[str]: ...
    def sourced_groups(self, key: str) -> frozenset[str]:
        """The groups whose members also come from a source under ``key``."""
        ...

    def policy_for(self, model_name: str) -> Policy | None: ...
    def replace(self, directory: Directory) -> None:
        """Make the stored directory equal to ``directory`` (its events are recorded)."""
        ...


class AuditLog(Protocol):
    """Written by the unit of work only, at commit (``bot/service/unit_of_work.py``)."""

    def append_all(self, entries: Sequence[tuple[str | None, Event]], at: datetime) -> list[int]:
        """Append (request id, event) pairs in one go; return their sequence numbers."""
        ...

    def records(
        self, request_id: str | None = None, request_ids: Sequence[str] | None = None
    ) -> list[AuditRecord]:
        """Oldest first; a `denied` event's ``repeats`` filled in (``RefusalLog``)."""
        ...

    def head(self) -> AuditHead | None: ...
    def chain(self, from_seq: int = 1) -> tuple[AuditHead | None, Iterator[AuditRecord]]:
        """The head and every record from ``from_seq`` on, in order, as of one moment, the
        records fetched in batches (bounded memory). Call it first in its unit of work."""
        ...

    def last_check(self) -> AuditCheck | None:
        """The last check of the chain that was kept (``save_check``), if any."""
        ...

    def save_check(self, check: AuditCheck) -> None: ...


class RefusalLog(Protocol):
    """Refusals counted beside the audit log instead of written (bot/service/refusals.py).
    The audit log indexes each `denied` event it writes here: that event's window starts."""

    def repeat(
        self, request_id: str, actor: str, why: str, *, since: datetime, at: datetime
    ) -> bool:
        """Count a repeat of the refusal whose event was written at or after ``since``;
        False when there is no such event."""
        ...

    def written(self, actor: str, *, since: datetime) -> int:
        """How many `denied` events of ``actor`` were written at or after ``since``; from
        here to the commit, no other transaction counts ``actor``'s refusals."""
        ...

    def kept_out(self, actor: str, *, since: datetime, at: datetime) -> int:
        """Count a refusal of ``actor`` that their cap kept out of the log; how many the
        window (since ``since``) has counted so far."""
        ...


class Outbox(Protocol):
    def add(self, effects: Sequence[Effect], at: datetime) -> None: ...
    def items(self, state: OutboxState | None = None, limit: int = 100) -> list[OutboxItem]: ...
    def get(self, item_id: int) -> OutboxItem | None: ...
    def claim(
        self,
        now: datetime,
        *,
        limit: int,
        lease_until: datetime,
        token: str,
        kinds: Sequence[str] | None = None,
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due rows (of these ``kinds``, if given), oldest first."""
        ...

    def finish(self, outcome: DeliveryOutcome, token: str, *, at: datetime) -> bool:
        """Record how a claimed delivery went (its events too); False if the claim was lost.
        A ``waiting`` outcome does not count the attempt."""
        ...

    def release(self, item_ids: Sequence[int], now: datetime) -> int:
        """Waiting rows back to pending (their system is here now); how many moved."""
        ...

    def for_requests(self, request_ids: Sequence[str]) -> list[OutboxItem]: ...
    def retry(self, retry: Retry, now: datetime) -> bool:
        """Put the row back in the queue, attempts reset (``retry``'s events recorded);
        False unless it was dead, waiting or pending."""
        ...

    def counts(self) -> dict[str, int]: ...
    def without_waiting_for_disk(self) -> None:
        """This transaction only records deliveries: its commit need not wait for the disk
        (a database crash would only mean an idempotent delivery is made again)."""
        ...


class TokenRepository(Protocol):
    """A token it adds or revokes is tracked: its events are recorded at commit."""

    def add(self, token: ApiToken, token_hash: str) -> None: ...
    def exists(self, name: str) -> bool:
        """Any token by that name, revoked or not (names are never reused)."""
        ...

    def find(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, unless revoked."""
        ...

    def listed(self) -> list[ApiToken]: ...
    def revoke(self, name: str, at: datetime) -> ApiToken | None:
        """Revoke the active token ``name``; it, revoked, or None when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class ChatClaim:
    """Where a request's message in one channel stands, for a deliverer about to post it.

    ``ref``: it is posted, update it. ``token``: this deliverer holds the claim and posts,
    then says ``posted`` (or ``abandon`` when it cannot tell whether it posted);
    ``retaken``: the claim was taken over from a deliverer that did not finish, whose post
    may exist (look for it first). Neither: another deliverer is posting it now.
    """

    ref: dict[str, Any] | None = None
    token: str | None = None
    retaken: bool = False


class ChatMessageRepository(Protocol):
    """Where each channel shows a request, and the claim a deliverer holds while posting."""

    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        """Where the message is, once posted (a claim being posted is not a message)."""
        ...

    def claim(
        self, request_id: str, channel: str, *, token: str, now: datetime, lease_until: datetime
    ) -> ChatClaim:
        """Claim posting the message, unless it is posted or claimed by someone else whose
        lease has not run out. Conditional: two deliverers never both hold it."""
        ...

    def finish(
        self,
        request_id: str,
        channel: str,
        *,
        token: str,
        ref: dict[str, Any],
        at: datetime,
        shown: str | None = None,
    ) -> bool:
        """Record the posted message under the claim (and ``shown``, the digest of what it
        shows); False when the claim was lost."""
        ...

    def take_shown(self, request_id: str, channel: str) -> str | None:
        """The digest of what the posted message shows, as its last delivery recorded it,
        and forget it until this delivery records what it shows (``mark_shown``): a
        delivery that never records (a crash, a failure) leaves it unknown (None), never
        stale. None when unknown."""
        ...

    def mark_shown(self, request_id: str, channel: str, shown: str) -> bool:
        """The message shows ``shown`` now, when nothing was recorded since ``take_shown``;
        otherwise another delivery changed it meanwhile, and it becomes unknown (False)."""
        ...

    def abandon(self, request_id: str, channel: str, *, token: str, at: datetime) -> None:
        """End the claim's lease now: the next deliverer takes it over (and looks first)."""
        ...

    def release(self, request_id: str, channel: str, *, token: str) -> None:
        """Drop the claim: nothing was posted under it (the channel refused)."""
        ...

    def move(self, channel: str, field: str, old: Any, new: Any) -> int:
        """Every ``channel`` message whose ref has ``field`` = ``old`` gets ``new`` there
        (a chat that changed its id); how many."""
        ...


class ChannelStateRepository(Protocol):
    """Small JSON values a channel keeps across restarts and replicas, by channel and key
    (e.g. where a long poll stopped, or a prompt waiting for its reply)."""

    def get(self, channel: str, key: str) -> Any | None: ...
    def put(self, channel: str, key: str, value: Any, at: datetime) -> None: ...
    def delete(self, channel: str, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        ...

    def first_seen(self, channel: str, update: str, at: datetime) -> bool:
        """Note that ``channel`` got inbound ``update`` (its platform's id for it); False
        when it was noted before (a redelivery). Conditional: two replicas never both win."""
        ...

    def unsee(self, channel: str, update: str) -> None:
        """Forget ``update`` (its processing failed: a redelivery processes it)."""
        ...

    def forget_seen(self, channel: str, before: datetime) -> int:
        """Forget the updates noted before ``before``; how many."""
        ...


class DivergenceRepository(Protocol):
    """What the registry ↔ serving watch saw differ (``bot/domain/divergence.py``)."""

    def open_for(self, model: str) -> Divergence | None:
        """The model's divergence that is not resolved yet (at most one)."""
        ...

    def get(self, divergence_id: str, *, for_update: bool = False) -> Divergence | None:
        """``for_update``: locked until the unit of work ends (two people acting at once)."""
        ...

    def add(self, divergence: Divergence) -> bool:
        """Store a new one; False (nothing stored, its events forgotten) when the model has
        an open one already (another replica's, in a race)."""
        ...

    def save(self, divergence: Divergence) -> None:
        """Store its resolution, what someone asked (``detail``) and where its alerts are."""
        ...

    def states(self) -> dict[str, bool]:
        """model -> open (True) or resolved (False), for every model that diverged."""

    def open_all(self) -> list[Divergence]:
        """Every divergence not resolved yet, oldest first."""


class SendScheduleRepository(Protocol):
    """Each key's write schedule (``bot/domain/pacing.py``), shared by the replicas."""

    def lock(self, keys: Sequence[str]) -> dict[str, Lane]:
        """The lanes of ``keys`` (created when missing), locked against every other
        transaction's ``lock`` until this one ends."""
        ...

    def save(self, lanes: Mapping[str, Lane]) -> None:
        """Store the lanes (each locked by this transaction's ``lock``)."""
        ...

    def held_until(self, key: str) -> float:
        """Until when ``key`` is held (0: it is not)."""
        ...


class LeaseRepository(Protocol):
    """Named leases: one holder at a time across replicas (``bot/service/leases.py``)."""

    def take(self, name: str, holder: str, *, until: datetime, now: datetime) -> bool:
        """Hold ``name`` until ``until`` if it is free, expired (at ``now``) or already
        ``holder``'s (a renewal); False when someone else holds it."""
        ...

    def give_up(self, name: str, holder: str) -> None:
        """Free ``name`` if ``holder`` holds it (nothing otherwise)."""
        ...

    def holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds ``name`` at ``now`` (None: free or expired)."""
        ...


class EventRecorder(Protocol):
    """Writes what the tracked domain objects raised, at commit
    (``bot/service/unit_of_work.py``)."""

    def record(self, uow: UnitOfWork, aggregates: Sequence[Aggregate]) -> frozenset[str]:
        """Audit records and outbox rows for their events; the outbox lanes written to."""
        ...

    def committed(self, lanes: frozenset[str]) -> None:
        """After the commit: rows were written to these lanes (deliver them now)."""
        ...


class EvidenceRepository(Protocol):
    """The pictures a request was submitted with (``bot/domain/evidence.py``)."""

    def add(self, request_id: str, pictures: Sequence[Picture]) -> None: ...
    def listed(self, request_id: str) -> list[EvidenceInfo]:
        """What is stored, without the bytes, in order."""
        ...

    def picture(self, request_id: str, index: int) -> Picture | None: ...


class UnitOfWork(Protocol):
    """One transaction. ``commit`` first records the events of every domain object its
    repositories handed out or took in (the audit log and the effects' outbox rows)."""

    @property
    def requests(self) -> RequestRepository: ...
    @property
    def directory(self) -> DirectoryRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def refusals(self) -> RefusalLog: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def chat(self) -> ChatMessageRepository: ...
    @property
    def channel_state(self) -> ChannelStateRepository: ...
    @property
    def divergences(self) -> DivergenceRepository: ...
    @property
    def leases(self) -> LeaseRepository: ...
    @property
    def send_schedule(self) -> SendScheduleRepository: ...
    @property
    def evidence(self) -> EvidenceRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    recorder: EventRecorder | None  # installed by ``bot.service.build_services``

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        """A unit of work; ``readonly`` ones never write, so they need not wait for writers
        (SQLite: a deferred transaction instead of taking the write lock)."""
        ...
