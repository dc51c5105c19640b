"""In-memory fakes of the ports: the service tests run against these and the real
SQL adapters alike, which keeps the fakes honest."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from bot.domain.audit import (
    GENESIS,
    AuditCheck,
    AuditHead,
    AuditRecord,
    canonical_json,
    chain_hash,
)
from bot.domain.directory import Directory
from bot.domain.divergence import Divergence
from bot.domain.effects import Effect
from bot.domain.events import Event
from bot.domain.evidence import EvidenceInfo, Picture
from bot.domain.model import (
    DECIDED,
    ApprovalRequest,
    Person,
    Policy,
    State,
    states_for_decision,
)
from bot.domain.names import OutboxState
from bot.domain.outbox import DeliveryOutcome, OutboxItem, Retry
from bot.domain.pacing import Lane
from bot.domain.people import NAME
from bot.domain.tokens import ApiToken
from bot.ports.store import ChatClaim, DuplicateSubmission, EventRecorder, RequestFilter, Tracker
from bot.service.unit_of_work import RecordingUnitOfWork


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> datetime:
        self.t += timedelta(**kw)
        return self.t


class _Store:
    def __init__(self) -> None:
        self.requests: dict[str, ApprovalRequest] = {}
        self.directory = Directory((), (), ())
        self.audit: list[AuditRecord] = []
        self.head: AuditHead | None = None
        self.audit_check: AuditCheck | None = None
        self.refusals: list[dict[str, Any]] = []
        self.outbox: list[OutboxItem] = []
        self.leases: dict[int, tuple[str, datetime]] = {}
        self.tokens: dict[str, ApiToken] = {}  # by hash
        self.chat: dict[tuple[str, str], dict[str, Any]] = {}
        self.chat_claims: dict[tuple[str, str], tuple[str, datetime]] = {}
        self.chat_shown: dict[tuple[str, str], str | None] = {}  # as chat_messages.shown
        self.divergences: dict[str, Divergence] = {}
        self.channel_state: dict[tuple[str, str], Any] = {}
        self.seen_updates: dict[tuple[str, str], datetime] = {}
        self.named_leases: dict[str, tuple[str, datetime]] = {}  # name -> (holder, until)
        self.send_schedule: dict[str, Lane] = {}
        self.evidence: dict[str, tuple[Picture, ...]] = {}


class FakeRequests:
    def __init__(self, store: _Store, seen: Tracker) -> None:
        self.s = store
        self.seen = seen

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        r = self.s.requests.get(request_id)
        found = copy.deepcopy(r) if r else None
        if found is not None:
            self.seen.track(found)
        return found

    def lock_due(self, request_id: str) -> ApprovalRequest | None:
        return self.get(request_id)

    def add(self, request: ApprovalRequest) -> None:
        if self.find_submission(request.model_name, request.model_version, request.staging_run_id):
            raise DuplicateSubmission(request.model_name, request.model_version)
        stored = copy.deepcopy(request)
        stored.events = []
        self.s.requests[request.id] = stored
        self.seen.track(request)

    def save(self, request: ApprovalRequest, *, expected_state: State) -> bool:
        current = self.s.requests[request.id]
        if current.state is not expected_state:
            self.seen.forget(request)
            return False
        stored = copy.deepcopy(request)
        stored.events = []
        self.s.requests[request.id] = stored
        self.seen.track(request)
        return True

    def find_submission(self, model_name: str, model_version: str, staging_run_id: str | None):
        for r in self.s.requests.values():
            if (r.model_name, r.model_version, r.staging_run_id or "") == (
                model_name,
                model_version,
                staging_run_id or "",
            ):
                return copy.deepcopy(r)
        return None

    def lock_model(self, model_name: str) -> None:
        pass  # one store, no concurrency

    def pending_for_model(self, model_name: str) -> list[ApprovalRequest]:
        found = [
            copy.deepcopy(r) for r in self._ordered() if r.model_name == model_name and r.is_pending
        ]
        for request in found:
            self.seen.track(request)
        return found

    def _ordered(self) -> list[ApprovalRequest]:
        return sorted(self.s.requests.values(), key=lambda r: (r.created_at, r.id))

    def search(self, flt: RequestFilter) -> list[ApprovalRequest]:
        out = []
        for r in self._ordered():
            if flt.state and r.state is not flt.state:
                continue
            if flt.model and r.model_name != flt.model:
                continue
            if flt.decided and r.state not in DECIDED:
                continue
            if flt.since and r.created_at < flt.since:
                continue
            if flt.until and r.created_at >= flt.until:
                continue
            if flt.decision and r.state not in states_for_decision(flt.decision):
                continue
            if flt.approver and not any(v.person == flt.approver for v in r.votes):
                continue
            if flt.after_id and (r.created_at, r.id) <= flt.after_id:
                continue
            out.append(copy.deepcopy(r))
        if flt.newest_first:
            out.reverse()
        return out[: flt.limit] if flt.limit else out

    def count_by_state(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.s.requests.values():
            out[r.state.value] = out.get(r.state.value, 0) + 1
        return out

    def in_state(self, state: State, limit: int = 100) -> list[ApprovalRequest]:
        return [copy.deepcopy(r) for r in self._ordered() if r.state is state][:limit]

    def due_ids(self, now: datetime, limit: int) -> list[str]:
        due = [
            r
            for r in self.s.requests.values()
            if r.is_pending
            and (
                r.deadline_at <= now
                or (r.next_reminder_at is not None and r.next_reminder_at <= now)
                or (r.escalate_at is not None and r.escalate_at <= now)
                or (r.auto_approve_at is not None and r.auto_approve_at <= now)
            )
        ]
        return [r.id for r in sorted(due, key=lambda r: r.deadline_at)][:limit]


class FakeDirectory:
    def __init__(self, store: _Store, seen: Tracker) -> None:
        self.s = store
        self.seen = seen

    def load(self) -> Directory:
        d = self.s.directory
        return Directory(d.people, d.groups, d.policies)

    def person_by_identity(self, kind: str, value: str) -> Person | None:
        people = self.s.directory.people
        if kind == NAME:
            return next((p for p in people if p.name == value), None)
        return next((p for p in people if (kind, value) in p.ids), None)

    def groups_of(self, person: str) -> frozenset[str]:
        return frozenset(g.name for g in self.s.directory.groups if person in g.members)

    def sourced_groups(self, key: str) -> frozenset[str]:
        return frozenset(g.name for g in self.s.directory.groups if g.source(key) is not None)

    def policy_for(self, model_name: str) -> Policy | None:
        by_model = {p.model: p for p in self.s.directory.policies}
        return by_model.get(model_name) or by_model.get("*")

    def replace(self, directory: Directory) -> None:
        self.s.directory = Directory(directory.people, directory.groups, directory.policies)
        self.seen.track(directory)


class FakeAudit:
    """Unsigned, like the SQL log without an audit key (the signing tests use the databases)."""

    def __init__(self, store: _Store) -> None:
        self.s = store

    def append_all(self, entries: Sequence[tuple[str | None, Event]], at: datetime) -> list[int]:
        import json

        seq, prev = (self.s.head.seq, self.s.head.hash) if self.s.head else (0, GENESIS)
        out = []
        for request_id, ev in entries:
            seq += 1
            data = json.loads(canonical_json(ev.data))
            rec = AuditRecord(seq, at, ev.kind, ev.actor, request_id, data, prev, "")
            rec = replace(rec, hash=chain_hash(prev, rec.body()))
            self.s.audit.append(rec)
            prev = rec.hash
            out.append(seq)
            if ev.kind == "denied":  # the refusal's window starts (as db/audit.py indexes it)
                row = FakeRefusals.row(request_id, ev.actor, str(data.get("why", "")), at, seq)
                self.s.refusals.append(row)
        self.s.head = AuditHead(seq, prev)
        return out

    def records(
        self, request_id: str | None = None, request_ids: Sequence[str] | None = None
    ) -> list[AuditRecord]:
        counts = {r["seq"]: r["count"] for r in self.s.refusals if r["seq"] is not None}
        return [
            replace(r, repeats=counts.get(r.seq, 1)) if r.kind == "denied" else r
            for r in self.s.audit
            if (request_id is None or r.request_id == request_id)
            and (request_ids is None or r.request_id in request_ids)
        ]

    def head(self) -> AuditHead | None:
        return self.s.head

    def chain(self, from_seq: int = 1) -> tuple[AuditHead | None, Iterator[AuditRecord]]:
        return self.s.head, iter([r for r in self.s.audit if r.seq >= from_seq])

    def last_check(self) -> AuditCheck | None:
        return self.s.audit_check

    def save_check(self, check: AuditCheck) -> None:
        self.s.audit_check = check


class FakeRefusals:
    def __init__(self, store: _Store) -> None:
        self.s = store

    def _open(self, since: datetime, **match: Any) -> dict[str, Any] | None:
        for row in self.s.refusals:
            if row["window_start"] >= since and all(row[k] == v for k, v in match.items()):
                return row
        return None

    def repeat(
        self, request_id: str, actor: str, why: str, *, since: datetime, at: datetime
    ) -> bool:
        row = self._open(since, request_id=request_id, actor=actor, why=why)
        if row is not None:
            row["count"] += 1
            row["last_at"] = at
        return row is not None

    def written(self, actor: str, *, since: datetime) -> int:
        return sum(
            1
            for r in self.s.refusals
            if r["actor"] == actor and r["request_id"] is not None and r["window_start"] >= since
        )

    def kept_out(self, actor: str, *, since: datetime, at: datetime) -> int:
        row = self._open(since, request_id=None, actor=actor)
        if row is None:
            self.s.refusals.append(self.row(None, actor, "capped", at, None))
            return 1
        row["count"] += 1
        row["last_at"] = at
        return int(row["count"])

    @staticmethod
    def row(
        request_id: str | None, actor: str, why: str, at: datetime, seq: int | None
    ) -> dict[str, Any]:
        return {
            "request_id": request_id,
            "actor": actor,
            "why": why,
            "window_start": at,
            "last_at": at,
            "count": 1,
            "seq": seq,
        }


class FakeOutbox:
    def __init__(self, store: _Store, seen: Tracker) -> None:
        self.s = store
        self.seen = seen

    def add(self, effects: Sequence[Effect], at: datetime) -> None:
        keys = {i.key for i in self.s.outbox}
        for e in effects:
            if e.key not in keys:
                self.s.outbox.append(
                    OutboxItem(
                        len(self.s.outbox) + 1,
                        e.kind,
                        e.key,
                        e.request_id,
                        e.payload,
                        OutboxState.PENDING,
                        0,
                        at,
                        None,
                        at,
                        None,
                    )
                )

    def items(self, state: OutboxState | None = None, limit: int = 100) -> list[OutboxItem]:
        return [i for i in self.s.outbox if state is None or i.state == state][:limit]

    def get(self, item_id: int) -> OutboxItem | None:
        return next((i for i in self.s.outbox if i.id == item_id), None)

    def _set(self, item_id: int, **changes: Any) -> None:
        self.s.outbox = [replace(i, **changes) if i.id == item_id else i for i in self.s.outbox]

    def claim(
        self,
        now: datetime,
        *,
        limit: int,
        lease_until: datetime,
        token: str,
        kinds: Sequence[str] | None = None,
    ) -> list[OutboxItem]:
        due = [
            i
            for i in self.s.outbox
            if (kinds is None or i.kind in kinds)
            and (
                (
                    i.state is OutboxState.PENDING
                    and i.next_attempt_at is not None
                    and i.next_attempt_at <= now
                )
                or (
                    i.state is OutboxState.DELIVERING
                    and self.s.leases.get(i.id, (None, now))[1] < now
                )
            )
        ]
        out = []
        for i in due[:limit]:
            self._set(i.id, state=OutboxState.DELIVERING, attempts=i.attempts + 1)
            self.s.leases[i.id] = (token, lease_until)
            out.append(self.get(i.id))
        return [i for i in out if i is not None]

    def finish(self, outcome: DeliveryOutcome, token: str, *, at: datetime) -> bool:
        item_id = outcome.item.id
        item = self.get(item_id)
        if (
            item is None
            or item.state is not OutboxState.DELIVERING
            or self.s.leases.get(item_id, ("",))[0] != token
        ):
            return False
        del self.s.leases[item_id]
        changes: dict[str, Any] = {"state": outcome.state, "last_error": outcome.error}
        if outcome.state is OutboxState.DELIVERED:
            changes["delivered_at"] = at
            changes["failing_since"] = None
        if outcome.state is OutboxState.PENDING:
            changes["failing_since"] = outcome.failing_since
        if not outcome.counted:
            changes["attempts"] = item.attempts - 1
        if outcome.next_attempt_at is not None:
            changes["next_attempt_at"] = outcome.next_attempt_at
        self._set(item_id, **changes)
        self.seen.track(outcome)
        return True

    def release(self, item_ids: Sequence[int], now: datetime) -> int:
        moved = [i.id for i in self.s.outbox if i.id in item_ids and i.state is OutboxState.WAITING]
        for item_id in moved:
            self._set(item_id, state=OutboxState.PENDING, next_attempt_at=now, last_error=None)
        return len(moved)

    def for_requests(self, request_ids: Sequence[str]) -> list[OutboxItem]:
        return [i for i in self.s.outbox if i.request_id in request_ids]

    def retry(self, retry: Retry, now: datetime) -> bool:
        item = self.get(retry.item.id)
        retryable = (OutboxState.DEAD, OutboxState.PENDING, OutboxState.WAITING)
        if item is None or item.state not in retryable:
            return False
        self._set(
            item.id,
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            failing_since=None,
        )
        self.seen.track(retry)
        return True

    def without_waiting_for_disk(self) -> None:
        pass

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.s.outbox:
            out[i.state] = out.get(i.state, 0) + 1
        return out


class FakeChat:
    def __init__(self, store: _Store) -> None:
        self.s = store

    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        ref = self.s.chat.get((request_id, channel))
        return dict(ref) if ref else None

    def claim(
        self, request_id: str, channel: str, *, token: str, now: datetime, lease_until: datetime
    ) -> ChatClaim:
        key = (request_id, channel)
        if key in self.s.chat:
            return ChatClaim(ref=dict(self.s.chat[key]))
        held = self.s.chat_claims.get(key)
        if held is not None and held[1] > now:
            return ChatClaim()
        self.s.chat_claims[key] = (token, lease_until)
        return ChatClaim(token=token, retaken=held is not None)

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
        key = (request_id, channel)
        held = self.s.chat_claims.get(key)
        if held is None or held[0] != token or key in self.s.chat:
            return False
        del self.s.chat_claims[key]
        self.s.chat[key] = dict(ref)
        self.s.chat_shown[key] = shown
        return True

    def take_shown(self, request_id: str, channel: str) -> str | None:
        key = (request_id, channel)
        if key not in self.s.chat:
            return None
        return self.s.chat_shown.pop(key, None)

    def mark_shown(self, request_id: str, channel: str, shown: str) -> bool:
        key = (request_id, channel)
        if key not in self.s.chat:
            return False
        if self.s.chat_shown.get(key) is None:
            self.s.chat_shown[key] = shown
            return True
        self.s.chat_shown[key] = None
        return False

    def abandon(self, request_id: str, channel: str, *, token: str, at: datetime) -> None:
        key = (request_id, channel)
        held = self.s.chat_claims.get(key)
        if held is not None and held[0] == token:
            self.s.chat_claims[key] = (token, at)

    def release(self, request_id: str, channel: str, *, token: str) -> None:
        key = (request_id, channel)
        held = self.s.chat_claims.get(key)
        if held is not None and held[0] == token:
            del self.s.chat_claims[key]

    def move(self, channel: str, field: str, old: Any, new: Any) -> int:
        moved = 0
        for key, ref in self.s.chat.items():
            if key[1] == channel and ref.get(field) == old:
                self.s.chat[key] = {**ref, field: new}
                moved += 1
        return moved


class FakeDivergences:
    """As ``bot/adapters/db/divergences.py``: one open divergence per model."""

    def __init__(self, store: _Store, seen: Tracker) -> None:
        self.s = store
        self.seen = seen

    def _out(self, found: Divergence | None) -> Divergence | None:
        if found is None:
            return None
        copied = copy.deepcopy(found)
        self.seen.track(copied)
        return copied

    def open_for(self, model: str) -> Divergence | None:
        found = [d for d in self.s.divergences.values() if d.model == model and d.is_open]
        return self._out(found[0] if found else None)

    def get(self, divergence_id: str, *, for_update: bool = False) -> Divergence | None:
        return self._out(self.s.divergences.get(divergence_id))

    def add(self, divergence: Divergence) -> bool:
        if divergence.is_open and self.open_for(divergence.model) is not None:
            self.seen.forget(divergence)
            return False
        kept = copy.deepcopy(divergence)
        kept.events = []
        self.s.divergences[divergence.id] = kept
        self.seen.track(divergence)
        return True

    def save(self, divergence: Divergence) -> None:
        kept = copy.deepcopy(divergence)
        kept.events = []
        self.s.divergences[divergence.id] = kept
        self.seen.track(divergence)

    def open_all(self) -> list[Divergence]:
        found = [d for d in self.s.divergences.values() if d.is_open]
        return [copy.deepcopy(d) for d in sorted(found, key=lambda d: d.detected_at)]

    def states(self) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for d in self.s.divergences.values():
            out[d.model] = out.get(d.model, False) or d.is_open
        return out


class FakeChannelState:
    def __init__(self, store: _Store) -> None:
        self.s = store

    def get(self, channel: str, key: str) -> Any | None:
        return copy.deepcopy(self.s.channel_state.get((channel, key)))

    def put(self, channel: str, key: str, value: Any, at: datetime) -> None:
        self.s.channel_state[(channel, key)] = copy.deepcopy(value)

    def delete(self, channel: str, key: str) -> bool:
        return self.s.channel_state.pop((channel, key), None) is not None

    def first_seen(self, channel: str, update: str, at: datetime) -> bool:
        if (channel, update) in self.s.seen_updates:
            return False
        self.s.seen_updates[(channel, update)] = at
        return True

    def unsee(self, channel: str, update: str) -> None:
        self.s.seen_updates.pop((channel, update), None)

    def forget_seen(self, channel: str, before: datetime) -> int:
        old = [k for k, at in self.s.seen_updates.items() if k[0] == channel and at < before]
        for key in old:
            del self.s.seen_updates[key]
        return len(old)


class FakeLeases:
    """As ``bot/adapters/db/leases.py``: free, expired or one's own is taken."""

    def __init__(self, store: _Store) -> None:
        self.s = store

    def take(self, name: str, holder: str, *, until: datetime, now: datetime) -> bool:
        held = self.s.named_leases.get(name)
        if held is not None and held[0] != holder and held[1] > now:
            return False
        self.s.named_leases[name] = (holder, until)
        return True

    def give_up(self, name: str, holder: str) -> None:
        if self.s.named_leases.get(name, ("", None))[0] == holder:
            del self.s.named_leases[name]

    def holder(self, name: str, *, now: datetime) -> str | None:
        held = self.s.named_leases.get(name)
        return held[0] if held is not None and held[1] > now else None


class FakeSendSchedule:
    """As ``bot/adapters/db/send_schedule.py`` (the store's lock serialises transactions)."""

    def __init__(self, store: _Store) -> None:
        self.s = store

    def lock(self, keys: Sequence[str]) -> dict[str, Lane]:
        for key in keys:
            self.s.send_schedule.setdefault(key, Lane())
        return {k: self.s.send_schedule[k] for k in keys}

    def save(self, lanes: Mapping[str, Lane]) -> None:
        self.s.send_schedule.update(lanes)

    def held_until(self, key: str) -> float:
        return self.s.send_schedule.get(key, Lane()).held_until


class FakeEvidence:
    def __init__(self, store: _Store) -> None:
        self.store = store

    def add(self, request_id: str, pictures: Sequence[Picture]) -> None:
        if pictures:
            assert request_id not in self.store.evidence, "added twice (a primary key refuses)"
            self.store.evidence[request_id] = tuple(pictures)

    def listed(self, request_id: str) -> list[EvidenceInfo]:
        return [p.info for p in self.store.evidence.get(request_id, ())]

    def picture(self, request_id: str, index: int) -> Picture | None:
        found = [p for p in self.store.evidence.get(request_id, ()) if p.info.index == index]
        return found[0] if found else None


class FakeTokens:
    def __init__(self, store: _Store, seen: Tracker) -> None:
        self.s = store
        self.seen = seen

    def add(self, token: ApiToken, token_hash: str) -> None:
        assert token_hash not in self.s.tokens, "unique, as the column is"
        self.s.tokens[token_hash] = replace(token, id=len(self.s.tokens) + 1, events=[])
        self.seen.track(token)

    def exists(self, name: str) -> bool:
        return any(t.name == name for t in self.s.tokens.values())

    def find(self, token_hash: str) -> ApiToken | None:
        token = self.s.tokens.get(token_hash)
        return token if token is not None and token.revoked_at is None else None

    def listed(self) -> list[ApiToken]:
        return sorted(self.s.tokens.values(), key=lambda t: t.id or 0)

    def revoke(self, name: str, at: datetime) -> ApiToken | None:
        for key, token in self.s.tokens.items():
            if token.name == name and token.revoked_at is None:
                revoked = self.s.tokens[key] = replace(token, revoked_at=at, events=[])
                self.seen.track(revoked)
                return revoked
        return None


class FakeUnitOfWork(RecordingUnitOfWork):
    """Copy-on-enter, swap-on-commit: a rollback really discards everything.

    Transactions are serialised with one lock per store, as SQLite's BEGIN
    IMMEDIATE does, so concurrent users (threads) see each other's commits.
    """

    def __init__(
        self, store: _Store, lock: threading.RLock, recorder: EventRecorder | None
    ) -> None:
        super().__init__(recorder)
        self.store = store
        self.lock = lock

    def __enter__(self) -> FakeUnitOfWork:
        self.lock.acquire()
        self._work = copy.deepcopy(self.store)
        self.requests = FakeRequests(self._work, self)
        self.directory = FakeDirectory(self._work, self)
        self.audit = FakeAudit(self._work)
        self.refusals = FakeRefusals(self._work)
        self.outbox = FakeOutbox(self._work, self)
        self.tokens = FakeTokens(self._work, self)
        self.chat = FakeChat(self._work)
        self.channel_state = FakeChannelState(self._work)
        self.divergences = FakeDivergences(self._work, self)
        self.leases = FakeLeases(self._work)
        self.send_schedule = FakeSendSchedule(self._work)
        self.evidence = FakeEvidence(self._work)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.lock.release()

    def _commit(self) -> None:
        self.store.__dict__.update(copy.deepcopy(self._work.__dict__))

    def _rollback(self) -> None:
        self._work.__dict__.update(copy.deepcopy(self.store.__dict__))


class FakeUnitOfWorkFactory:
    def __init__(self) -> None:
        self.store = _Store()
        self.lock = threading.RLock()
        self.recorder: EventRecorder | None = None

    def __call__(self, *, readonly: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, self.lock, self.recorder)


class NotedHandler:
    """Stands in for every other effect in tests of one effect: notes it delivered."""

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        return "noted"
