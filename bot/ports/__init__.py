"""Protocols the service layer depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bot.domain.audit import AuditRecord
from bot.domain.effects import Effect
from bot.domain.model import ApprovalRequest, Event, Group, Person, Policy, State
from bot.domain.names import IdentityKind, OutboxState
from bot.domain.tokens import ApiToken


class DuplicateSubmission(Exception):
    """The same (model, version, staging run) was submitted concurrently."""

    def __init__(self, model_name: str, model_version: str) -> None:
        super().__init__(f"{model_name} v{model_version} was already submitted")


class StoreUnavailable(Exception):
    """The database cannot be reached (or is overloaded): nothing was changed; try again.

    The message is one line naming the reason; the unit of work has logged it already
    (once per kind of failure, until the database answers again).
    """


class Clock(Protocol):
    def now(self) -> datetime: ...


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


@dataclass(frozen=True, slots=True)
class Directory:
    people: tuple[Person, ...]
    groups: tuple[Group, ...]
    policies: tuple[Policy, ...]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    key: str
    request_id: str | None
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class RequestRepository(Protocol):
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
    def person_by_identity(self, kind: IdentityKind, value: str) -> Person | None: ...
    def groups_of(self, person: str) -> frozenset[str]: ...
    def policy_for(self, model_name: str) -> Policy | None: ...
    def replace(self, directory: Directory) -> None: ...


class AuditLog(Protocol):
    def append(self, request_id: str | None, events: Sequence[Event], at: datetime) -> list[int]:
        """Append events to the chain; return their sequence numbers."""
        ...

    def append_all(self, entries: Sequence[tuple[str | None, Event]], at: datetime) -> list[int]:
        """Append (request id, event) pairs in one go; return their sequence numbers."""
        ...

    def records(
        self, request_id: str | None = None, request_ids: Sequence[str] | None = None
    ) -> list[AuditRecord]: ...
    def head(self) -> tuple[int, str] | None: ...
    def chain(self) -> tuple[tuple[int, str] | None, Iterator[AuditRecord]]:
        """The head and every record in order, as of one moment, the records fetched in
        batches (bounded memory). Call it first in its unit of work."""
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

    def finish(
        self,
        item_id: int,
        token: str,
        *,
        state: OutboxState,
        at: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool: ...
    def park(self, item_id: int, token: str, *, reason: str, at: datetime) -> bool:
        """A claimed row waits for its system: ``waiting``, the attempt not counted."""
        ...

    def release(self, item_ids: Sequence[int], now: datetime) -> int:
        """Waiting rows back to pending (their system is here now); how many moved."""
        ...

    def for_requests(self, request_ids: Sequence[str]) -> list[OutboxItem]: ...
    def retry(self, item_id: int, now: datetime) -> bool: ...
    def counts(self) -> dict[str, int]: ...
    def without_waiting_for_disk(self) -> None:
        """This transaction only records deliveries: its commit need not wait for the disk
        (a database crash would only mean an idempotent delivery is made again)."""
        ...


class PermanentEffectError(Exception):
    """An effect that can never succeed (bad configuration, missing object): dead-letter now."""


class EffectHandler(Protocol):
    """Delivers one kind of effect. Must be idempotent: the outbox delivers at least once.

    Chat handlers render the request's *current* state, so a late or repeated
    ``chat.update`` is harmless and a ``chat.update`` before its ``chat.post``
    posts the message. Raise ``PermanentEffectError`` for what retrying cannot fix;
    any other exception is retried with backoff. The return value is a short note
    for the log.

    The outbox loads the request for the handler, unless the handler's class says
    ``needs_request = False`` (it reads what it needs itself; it gets ``None``).
    """

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None: ...


class TokenRepository(Protocol):
    def add(self, token: ApiToken, token_hash: str) -> None: ...
    def exists(self, name: str) -> bool:
        """Any token by that name, revoked or not (names are never reused)."""
        ...

    def find(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, unless revoked."""
        ...

    def listed(self) -> list[ApiToken]: ...
    def revoke(self, name: str, at: datetime) -> bool:
        """False when no unrevoked token has that name."""
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
    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        """Where the message is, once posted (a claim being posted is not a message)."""
        ...

    def put(self, request_id: str, channel: str, ref: dict[str, Any], at: datetime) -> None: ...
    def claim(
        self, request_id: str, channel: str, *, token: str, now: datetime, lease_until: datetime
    ) -> ChatClaim:
        """Claim posting the message, unless it is posted or claimed by someone else whose
        lease has not run out. Conditional: two deliverers never both hold it."""
        ...

    def finish(
        self, request_id: str, channel: str, *, token: str, ref: dict[str, Any], at: datetime
    ) -> bool:
        """Record the posted message under the claim; False when the claim was lost."""
        ...

    def abandon(self, request_id: str, channel: str, *, token: str, at: datetime) -> None:
        """End the claim's lease now: the next deliverer takes it over (and looks first)."""
        ...

    def release(self, request_id: str, channel: str, *, token: str) -> None:
        """Drop the claim: nothing was posted under it (the channel refused)."""
        ...


class TelegramStateRepository(Protocol):
    """Small JSON values the Telegram channel keeps across restarts and replicas, by key."""

    def get(self, key: str) -> Any | None: ...
    def put(self, key: str, value: Any, at: datetime) -> None: ...
    def delete(self, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        ...


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A promotion run's state as the launcher reports it."""

    run_id: str
    state: str
    terminal: bool
    succeeded: bool
    detail: str = ""


class PromotionLauncher(Protocol):
    """Starts the promotion pipeline for an approved request and reports on it.

    ``launch`` must be idempotent on ``idempotency_key`` (look it up first): the
    outbox may call it twice. Both are async; blocking SDKs run in worker threads.
    """

    async def launch(self, request: ApprovalRequest, idempotency_key: str) -> str: ...
    async def status(self, run_id: str) -> RunStatus: ...


class UnitOfWork(Protocol):
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def directory(self) -> DirectoryRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def chat(self) -> ChatMessageRepository: ...
    @property
    def telegram(self) -> TelegramStateRepository: ...

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
    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        """A unit of work; ``readonly`` ones never write, so they need not wait for writers
        (SQLite: a deferred transaction instead of taking the write lock)."""
        ...
