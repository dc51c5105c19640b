"""Commands: the use cases that change requests. Each opens a unit of work, loads, asks
the domain, saves and commits; the unit of work records the events the requests raised
(audit records, outbox rows) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import errors, text
from bot.domain.durations import MAX_SHOWN
from bot.domain.evidence import Picture, pictures
from bot.domain.images import ImageError
from bot.domain.model import ApprovalRequest, GateResult, Person, Policy, State, Vote, VoteKind
from bot.domain.names import EventKind
from bot.domain.tokens import ApiToken
from bot.ports.clock import Clock
from bot.ports.store import DuplicateSubmission, UnitOfWork, UnitOfWorkFactory
from bot.service.clock import SystemClock
from bot.service.identity import Identity, IdentityKinds
from bot.service.refusals import record_refusal
from bot.service.schemas import SubmissionIn, plain_or_unknown


def checked_pictures(body: SubmissionIn) -> tuple[Picture, ...]:
    """The submission's pictures, each a whole PNG or JPEG within the limits; a 422
    naming the bad one otherwise (before anything is stored)."""
    try:
        return pictures([(e.data, e.alt) for e in body.evidence])
    except ImageError as exc:
        raise errors.InvalidField(exc.path, exc.problem) from None


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
class Vouched:
    """Group membership a channel vouches for (its own user groups' members): it counts only
    for the groups whose members come from that channel's source (``source``)."""

    source: str
    groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class ScanResult:
    expired: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    auto_approved: list[str] = field(default_factory=list)  # their veto window ended
    window_closed: list[str] = field(default_factory=list)  # their policy no longer approves


class Commands:
    """The one place where requests change. Channels call it; it never calls them."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock | None = None,
        identities: IdentityKinds | None = None,
        id_factory: Callable[[], str] | None = None,
        on_decided: Callable[[ApprovalRequest], None] | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()
        self.identities = identities or IdentityKinds()
        self.id_factory = id_factory
        self.on_decided = on_decided

    def _decided(self, request: ApprovalRequest) -> None:
        if self.on_decided is not None and request.decision is not None:
            self.on_decided(request)

    # -- submit -------------------------------------------------------------

    def submit(self, body: SubmissionIn, *, token: ApiToken | None = None) -> SubmitResult:
        """``token``: the API token that submits (checked against the names it may submit
        as; recorded on the audit events); None from the CLI."""
        if token is not None and not token.may_submit_as(body.requested_by):
            raise errors.Forbidden(
                f"token {token.name!r} may submit only as {', '.join(token.requested_by)}, "
                f"not as {body.requested_by!r}"
            )
        pictures = checked_pictures(body)
        now = self.clock.now()
        for attempt in range(2):
            with self.uow() as uow:
                uow.requests.lock_model(body.model_name)
                existing = uow.requests.find_submission(
                    body.model_name, body.model_version, body.staging_run_id
                )
                if existing is not None:
                    policy = uow.directory.policy_for(existing.model_name)
                    return SubmitResult(existing, created=False, policy=policy)
                policy = policy_for(uow, body.model_name)
                request = self._new_request(body, policy, now)
                superseded = self._supersede_pending(uow, request, now)
                try:
                    uow.requests.add(request)
                except DuplicateSubmission:
                    if attempt:
                        raise
                    continue  # a concurrent identical submission won: answer with it
                uow.evidence.add(request.id, pictures)
                if pictures:  # the audit shows what the approvers saw
                    submitted = next(e for e in request.events if e.kind is EventKind.SUBMITTED)
                    submitted.data["evidence"] = [p.info.to_dict() for p in pictures]
                if token is not None:  # which token submitted (and superseded)
                    for ev in (*request.events, *(e for o in superseded for e in o.events)):
                        ev.data.update(token.audit())
                uow.commit()
                return SubmitResult(request, True, tuple(o.id for o in superseded), policy)
        raise AssertionError("unreachable")

    def _new_request(self, body: SubmissionIn, policy: Policy, now: datetime) -> ApprovalRequest:
        try:
            return self._request_of(body, policy, now)
        except OverflowError:
            # A policy stored before durations were bounded (apply refuses them now).
            raise errors.InvalidRequest(
                f"the policy for {policy.model!r} has a deadline, reminder or escalation too "
                f"far in the future (the maximum is {MAX_SHOWN}): apply the config again"
            ) from None

    def _request_of(self, body: SubmissionIn, policy: Policy, now: datetime) -> ApprovalRequest:
        return ApprovalRequest.submit(
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

    @staticmethod
    def _supersede_pending(
        uow: UnitOfWork, newer: ApprovalRequest, now: datetime
    ) -> list[ApprovalRequest]:
        superseded = []
        for old in uow.requests.pending_for_model(newer.model_name):
            old.supersede(by_request=newer.id, now=now)
            if uow.requests.save(old, expected_state=State.PENDING):
                superseded.append(old)
        return superseded

    # -- votes --------------------------------------------------------------

    def vote(
        self,
        request_id: str,
        who: Identity,
        vote: VoteKind,
        *,
        comment: str | None = None,
        record_denial: bool = True,
        vouched: Vouched | None = None,
    ) -> VoteResult:
        """Cast a vote. Refusals raise ``errors.Refused``; for chat they leave a `denied` event
        (not every time: ``bot/service/refusals.py``).

        ``vouched``: group membership the voter's channel vouches for.
        """
        plain_or_unknown(request_id)
        if comment is not None and (problem := text.comment_problem(comment)):
            raise errors.InvalidRequest(f"comment: {problem}")
        now = self.clock.now()
        with self.uow() as uow:
            request = uow.requests.get(request_id, for_update=True)
            if request is None:
                raise errors.UnknownRequest(request_id)
            try:
                policy = policy_for(uow, request.model_name)
                cast = self._cast(uow, request, who, vote, policy, comment, vouched, now)
            except errors.DomainError as exc:
                if record_denial:
                    record_refusal(uow, request, who.describe(), vote, exc, now)
                    uow.commit()  # an event, or a count beside one
                raise
            if not uow.requests.save(request, expected_state=State.PENDING):
                # Lost a race with another decider (only without row locks).
                fresh = uow.requests.get(request_id)
                state = fresh.state.value if fresh else "gone"
                raise errors.AlreadyDecided(
                    f"request {request_id} is already {state}; nothing changed"
                )
            uow.commit()
        if not request.is_pending:
            self._decided(request)
        return VoteResult(request, cast, not request.is_pending, policy)

    def refuse(
        self, request_id: str, who: Identity, vote: VoteKind, refusal: errors.DomainError
    ) -> None:
        """A vote its channel refused before the rules saw it (``errors.Stranger``): in the
        audit log as refused votes are (``record_refusal``)."""
        plain_or_unknown(request_id)
        with self.uow() as uow:
            request = uow.requests.get(request_id, for_update=True)
            if request is None:
                raise errors.UnknownRequest(request_id)
            record_refusal(uow, request, who.describe(), vote, refusal, self.clock.now())
            uow.commit()

    def resolve(self, uow: UnitOfWork, who: Identity) -> Person:
        """The person behind ``who``; ``UnknownPerson`` when nobody has that identity."""
        kind = self.identities.of(who.channel)
        value = kind.canonical(who.value) if who.is_plain() else None
        person = uow.directory.person_by_identity(kind.name, value) if value else None
        if person is None:
            raise errors.UnknownPerson(who.label())
        return person

    def _cast(
        self,
        uow: UnitOfWork,
        request: ApprovalRequest,
        who: Identity,
        vote: VoteKind,
        policy: Policy,
        comment: str | None,
        vouched: Vouched | None,
        now: datetime,
    ) -> Vote:
        person = self.resolve(uow, who)
        groups = uow.directory.groups_of(person.name)
        if vouched is not None and vouched.groups:
            groups |= vouched.groups & uow.directory.sourced_groups(vouched.source)
        return request.cast_vote(
            person=person,
            person_groups=groups,
            vote=vote,
            policy=policy,
            now=now,
            channel=who.channel,
            comment=comment,
        )

    # -- promotion ------------------------------------------------------------

    def promotion_started(self, request_id: str, run_id: str) -> ApprovalRequest:
        """Record the promotion run of an approved request (idempotent for the same run)."""
        now = self.clock.now()
        with self.uow() as uow:
            request = self._locked(uow, request_id)
            if request.state is State.PROMOTING and request.promotion_run_id == run_id:
                return request
            request.start_promotion(run_id=run_id, now=now)
            self._save_moved(uow, request, State.APPROVED, now)
            return request

    def promotion_finished(
        self, request_id: str, *, succeeded: bool, detail: str
    ) -> ApprovalRequest:
        """Record how the promotion ended (idempotent once it has ended)."""
        now = self.clock.now()
        with self.uow() as uow:
            request = self._locked(uow, request_id)
            if request.state in (State.PROMOTED, State.PROMOTION_FAILED):
                return request
            before = request.state
            request.finish_promotion(succeeded=succeeded, detail=detail, now=now)
            self._save_moved(uow, request, before, now)
            return request

    @staticmethod
    def _locked(uow: UnitOfWork, request_id: str) -> ApprovalRequest:
        plain_or_unknown(request_id)
        request = uow.requests.get(request_id, for_update=True)
        if request is None:
            raise errors.UnknownRequest(request_id)
        return request

    def _save_moved(
        self, uow: UnitOfWork, request: ApprovalRequest, before: State, now: datetime
    ) -> None:
        if not uow.requests.save(request, expected_state=before):
            raise errors.AlreadyDecided(f"request {request.id} moved on; nothing changed")
        uow.commit()

    def observed(self, request_id: str, kind: EventKind, data: dict[str, Any]) -> None:
        """Record what an effect saw happen to a request (e.g. the challenger moved on)."""
        with self.uow() as uow:
            self._locked(uow, request_id).observed(kind, data)
            uow.commit()

    # -- scheduled scans ----------------------------------------------------

    def scan_due(self, *, limit: int = 100) -> ScanResult:
        """Expire, remind and escalate what is due, approve what a veto window approves.
        Safe with several replicas: each request is locked (skipped when another replica
        holds it, on PostgreSQL) and saved only if still pending, so it is decided once."""
        now = self.clock.now()
        result = ScanResult()
        with self.uow() as uow:
            ids = uow.requests.due_ids(now, limit)
        for rid in ids:
            with self.uow() as uow:
                request = uow.requests.lock_due(rid)
                if request is None or not request.is_pending:
                    continue
                bucket = self._due(uow, request, result, now)
                if bucket is None or not uow.requests.save(request, expected_state=State.PENDING):
                    continue
                uow.commit()
                bucket.append(rid)
                if not request.is_pending:
                    self._decided(request)
        return result

    @staticmethod
    def _due(
        uow: UnitOfWork, request: ApprovalRequest, result: ScanResult, now: datetime
    ) -> list[str] | None:
        """Do what is due on ``request``; the result bucket it goes to, None if nothing was."""
        # A policy removed since submission must not keep a request open forever:
        # it still expires at its deadline, with the default expiry action.
        policy = uow.directory.policy_for(request.model_name) or Policy(model="*", rules=())
        if request.in_window:  # no reminder, escalation or expiry (bot/domain/window.py)
            if request.auto_approve_at is None or now < request.auto_approve_at:
                return None
            approved = request.auto_approve(policy=policy, now=now)
            return result.auto_approved if approved else result.window_closed
        if now >= request.deadline_at:
            request.expire(policy=policy, now=now)
            return result.expired
        if request.escalate(policy=policy, now=now):
            request.remind(policy=policy, now=now)
            return result.escalated
        if request.remind(policy=policy, now=now):
            return result.reminded
        return None


def policy_for(uow: UnitOfWork, model_name: str) -> Policy:
    policy = uow.directory.policy_for(model_name)
    if policy is None:
        raise errors.InvalidRequest(
            f"no policy for model {model_name!r} and no '*' default policy: "
            "add one with `approval-bot apply -f`"
        )
    return policy
