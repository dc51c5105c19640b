"""Use cases. Each opens a unit of work, loads, asks the domain, saves, commits.

Every change to a request writes, in the same transaction, its audit events
(hash-chained) and the outbox rows for the effects it causes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain import errors
from bot.domain.audit import AuditRecord, ChainProblem, verify_chain
from bot.domain.effects import effects_for
from bot.domain.model import (
    ApprovalRequest,
    Event,
    GateResult,
    Person,
    Policy,
    State,
    Vote,
    VoteKind,
)
from bot.ports import (
    Clock,
    Directory,
    DuplicateSubmission,
    RequestFilter,
    UnitOfWork,
    UnitOfWorkFactory,
)
from bot.service.config import diff_directories
from bot.service.schemas import SubmissionIn


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is acting: a channel and that channel's user id.

    ``cli`` and ``api`` identify by configured person name; ``slack`` by Slack user
    id; ``telegram`` by Telegram user id; ``console`` by email.
    """

    channel: str
    value: str

    def describe(self) -> str:
        return f"{self.channel} user {self.value}"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    request: ApprovalRequest
    created: bool
    superseded: tuple[str, ...] = ()
    policy: Policy | None = None


@dataclass(frozen=True, slots=True)
class VoteResult:
    request: ApprovalRequest
    vote: Vote
    decided: bool
    policy: Policy


@dataclass(frozen=True, slots=True)
class ScanResult:
    expired: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApprovalService:
    """The one place where requests change. Channels call it; it never calls them."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock | None = None,
        channels: Sequence[str] = (),
        id_factory: Callable[[], str] | None = None,
        on_decided: Callable[[ApprovalRequest], None] | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()
        self.channels = tuple(channels)
        self.id_factory = id_factory
        self.on_decided = on_decided

    def _decided(self, request: ApprovalRequest) -> None:
        if self.on_decided is not None and request.decision is not None:
            self.on_decided(request)

    # -- helpers ------------------------------------------------------------

    def _record(self, uow: UnitOfWork, request: ApprovalRequest, now: datetime) -> None:
        """Write the request's new events to the audit log and their effects to the outbox."""
        events, request.events = list(request.events), []
        seqs = uow.audit.append(request.id, events, now)
        for ev, seq in zip(events, seqs, strict=True):
            uow.outbox.add(effects_for(request, ev, seq, self.channels), now)

    @staticmethod
    def _resolve(uow: UnitOfWork, who: Identity) -> Person:
        person = uow.directory.person_by_identity(who.channel, who.value)
        if person is None:
            label = who.value if who.channel in ("cli", "api") else who.describe()
            raise errors.UnknownPerson(label)
        return person

    @staticmethod
    def _policy(uow: UnitOfWork, model_name: str) -> Policy:
        policy = uow.directory.policy_for(model_name)
        if policy is None:
            raise errors.InvalidRequest(
                f"no policy for model {model_name!r} and no '*' default policy: "
                "add one with `approval-bot apply -f`"
            )
        return policy

    # -- submit -------------------------------------------------------------

    def submit(self, body: SubmissionIn) -> SubmitResult:
        now = self.clock.now()
        for attempt in range(2):
            with self.uow() as uow:
                uow.requests.lock_model(body.model_name)
                existing = uow.requests.find_submission(
                    body.model_name, body.model_version, body.staging_run_id
                )
                if existing is not None:
                    return SubmitResult(
                        existing,
                        created=False,
                        policy=uow.directory.policy_for(existing.model_name),
                    )
                policy = self._policy(uow, body.model_name)
                request = ApprovalRequest.submit(
                    request_id=self.id_factory() if self.id_factory else None,
                    model_name=body.model_name,
                    model_version=body.model_version,
                    requested_by=body.requested_by,
                    policy=policy,
                    now=now,
                    challenger_run_id=body.challenger_run_id,
                    data_run_id=body.data_run_id,
                    staging_run_id=body.staging_run_id,
                    gates=tuple(GateResult(**g.model_dump()) for g in body.gates),
                    links=dict(body.links),
                    promotion=body.promotion.model_dump(),
                )
                superseded = []
                for old in uow.requests.pending_for_model(body.model_name):
                    old.supersede(by_request=request.id, now=now)
                    if uow.requests.save(old, expected_state=State.PENDING):
                        self._record(uow, old, now)
                        superseded.append(old.id)
                try:
                    uow.requests.add(request)
                except DuplicateSubmission:
                    if attempt:
                        raise
                    continue  # a concurrent identical submission won: answer with it
                self._record(uow, request, now)
                uow.commit()
                return SubmitResult(
                    request, created=True, superseded=tuple(superseded), policy=policy
                )
        raise AssertionError("unreachable")

    # -- votes --------------------------------------------------------------

    def vote(
        self,
        request_id: str,
        who: Identity,
        vote: VoteKind,
        *,
        comment: str | None = None,
        record_denial: bool = True,
        extra_groups: frozenset[str] = frozenset(),
    ) -> VoteResult:
        """Cast a vote. Refusals raise ``errors.Refused``; for chat they leave a `denied` event."""
        now = self.clock.now()
        with self.uow() as uow:
            request = uow.requests.get(request_id, for_update=True)
            if request is None:
                raise errors.UnknownRequest(request_id)
            try:
                person = self._resolve(uow, who)
                policy = self._policy(uow, request.model_name)
                groups = uow.directory.groups_of(person.name)
                if extra_groups:
                    # Membership a channel vouches for (Slack user groups), only for
                    # the groups that declare it.
                    synced = {g.name for g in uow.directory.load().groups if g.slack_usergroup}
                    groups |= extra_groups & synced
                cast = request.cast_vote(
                    person=person,
                    person_groups=groups,
                    vote=vote,
                    policy=policy,
                    now=now,
                    channel=who.channel,
                    comment=comment,
                )
            except errors.DomainError as exc:
                if record_denial and not isinstance(
                    exc, errors.AlreadyDecided | errors.AlreadyVoted
                ):
                    uow.rollback()
                    uow.audit.append(
                        request.id,
                        [
                            Event(
                                "denied",
                                who.describe(),
                                {"vote": vote.value, "why": exc.code, "message": exc.message},
                            )
                        ],
                        now,
                    )
                    uow.commit()
                raise
            if not uow.requests.save(request, expected_state=State.PENDING):
                # Lost a race with another decider (only without row locks).
                fresh = uow.requests.get(request_id)
                assert fresh is not None
                raise errors.AlreadyDecided(
                    f"request {request_id} is already {fresh.state.value}; nothing changed"
                )
            decided = not request.is_pending
            self._record(uow, request, now)
            uow.commit()
        if decided:
            self._decided(request)
        return VoteResult(request, cast, decided, policy)

    # -- promotion ------------------------------------------------------------

    def promotion_started(self, request_id: str, run_id: str) -> ApprovalRequest:
        """Record the promotion run of an approved request (idempotent for the same run)."""
        now = self.clock.now()
        with self.uow() as uow:
            request = uow.requests.get(request_id, for_update=True)
            if request is None:
                raise errors.UnknownRequest(request_id)
            if request.state is State.PROMOTING and request.promotion_run_id == run_id:
                return request
            request.start_promotion(run_id=run_id, now=now)
            if not uow.requests.save(request, expected_state=State.APPROVED):
                raise errors.AlreadyDecided(f"request {request_id} moved on; nothing changed")
            self._record(uow, request, now)
            uow.commit()
            return request

    def promotion_finished(
        self, request_id: str, *, succeeded: bool, detail: str
    ) -> ApprovalRequest:
        """Record how the promotion ended (idempotent once it has ended)."""
        now = self.clock.now()
        with self.uow() as uow:
            request = uow.requests.get(request_id, for_update=True)
            if request is None:
                raise errors.UnknownRequest(request_id)
            if request.state in (State.PROMOTED, State.PROMOTION_FAILED):
                return request
            before = request.state
            request.finish_promotion(succeeded=succeeded, detail=detail, now=now)
            if not uow.requests.save(request, expected_state=before):
                raise errors.AlreadyDecided(f"request {request_id} moved on; nothing changed")
            self._record(uow, request, now)
            uow.commit()
            return request

    def in_state(self, state: State, limit: int = 100) -> list[ApprovalRequest]:
        with self.uow() as uow:
            return uow.requests.in_state(state, limit)

    def record_event(self, request_id: str, kind: str, data: dict[str, Any]) -> None:
        """Append a system event an effect observed (e.g. the challenger moved on) to the audit."""
        with self.uow() as uow:
            uow.audit.append(request_id, [Event(kind, "system", data)], self.clock.now())
            uow.commit()

    # -- chat message references ------------------------------------------------

    def chat_ref(self, request_id: str, channel: str) -> dict[str, Any] | None:
        with self.uow() as uow:
            return uow.chat.get(request_id, channel)

    def save_chat_ref(self, request_id: str, channel: str, ref: dict[str, Any]) -> None:
        with self.uow() as uow:
            uow.chat.put(request_id, channel, ref, self.clock.now())
            uow.commit()

    def whoami(self, who: Identity) -> tuple[Person | None, frozenset[str]]:
        with self.uow() as uow:
            person = uow.directory.person_by_identity(who.channel, who.value)
            groups = uow.directory.groups_of(person.name) if person else frozenset()
        return person, groups

    def people_to_remind(self, request_id: str) -> list[Person]:
        """Members of the groups whose rules are not met yet, who have not voted."""
        with self.uow() as uow:
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
        with self.uow() as uow:
            directory = uow.directory.load()
        members = next((g.members for g in directory.groups if g.name == group), frozenset())
        return [p for p in directory.people if p.name in members]

    # -- scheduled scans ----------------------------------------------------

    def scan_due(self, *, limit: int = 100) -> ScanResult:
        """Expire, remind and escalate what is due. Safe with several replicas."""
        now = self.clock.now()
        result = ScanResult()
        with self.uow() as uow:
            ids = uow.requests.due_ids(now, limit)
        for rid in ids:
            with self.uow() as uow:
                request = uow.requests.lock_due(rid)
                if request is None or not request.is_pending:
                    continue
                # A policy removed since submission must not keep a request open forever:
                # it still expires at its deadline, with the default expiry action.
                policy = uow.directory.policy_for(request.model_name) or Policy(model="*", rules=())
                if now >= request.deadline_at:
                    request.expire(policy=policy, now=now)
                    bucket = result.expired
                elif request.escalate(policy=policy, now=now):
                    bucket = result.escalated
                    request.remind(policy=policy, now=now)
                elif request.remind(policy=policy, now=now):
                    bucket = result.reminded
                else:
                    continue
                if uow.requests.save(request, expected_state=State.PENDING):
                    self._record(uow, request, now)
                    uow.commit()
                    bucket.append(rid)
                    if not request.is_pending:
                        self._decided(request)
        return result

    # -- queries ------------------------------------------------------------

    def get(self, request_id: str) -> ApprovalRequest:
        with self.uow() as uow:
            request = uow.requests.get(request_id)
        if request is None:
            raise errors.UnknownRequest(request_id)
        return request

    def get_with_policy(self, request_id: str) -> tuple[ApprovalRequest, Policy | None]:
        with self.uow() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise errors.UnknownRequest(request_id)
            return request, uow.directory.policy_for(request.model_name)

    def search(self, flt: RequestFilter) -> list[ApprovalRequest]:
        with self.uow() as uow:
            return uow.requests.search(flt)

    def pending(self) -> list[ApprovalRequest]:
        return self.search(RequestFilter(state=State.PENDING.value))

    def history(self, requests: Sequence[ApprovalRequest]) -> dict[str, list[AuditRecord]]:
        ids = [r.id for r in requests]
        out: dict[str, list[AuditRecord]] = {i: [] for i in ids}
        if not ids:
            return out
        with self.uow() as uow:
            for rec in uow.audit.records(request_ids=ids):
                if rec.request_id is not None:
                    out[rec.request_id].append(rec)
        return out

    def verify_audit(self) -> tuple[int, ChainProblem | None]:
        with self.uow() as uow:
            records = uow.audit.records()
            head = uow.audit.head()
        return len(records), verify_chain(records, head)

    # -- directory & tokens -------------------------------------------------

    def directory(self) -> Directory:
        with self.uow() as uow:
            return uow.directory.load()

    def apply(self, new: Directory, *, actor: str = "cli") -> list[str]:
        """Replace people, groups and policies; no change → nothing written."""
        now = self.clock.now()
        with self.uow() as uow:
            changes = diff_directories(uow.directory.load(), new)
            if not changes:
                return []
            uow.directory.replace(new)
            uow.audit.append(None, [Event("config_applied", actor, {"changes": changes})], now)
            uow.commit()
        return changes

    def create_token(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise errors.InvalidRequest("token name must not be empty")
        token = "abt_" + secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.uow() as uow:
            if uow.tokens.exists(name):
                raise errors.InvalidRequest(f"a token named {name!r} already exists")
            uow.tokens.add(name, hash_token(token), now)
            uow.audit.append(None, [Event("token_created", "cli", {"name": name})], now)
            uow.commit()
        return token

    def authenticate(self, token: str) -> str | None:
        if not token:
            return None
        with self.uow() as uow:
            return uow.tokens.find(hash_token(token))
