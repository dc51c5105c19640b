"""Checking the audit chain: in full (`audit verify`), or on from the last check.

Walking a million events takes tens of seconds, so nothing a person waits for does it:
the scheduler checks the events written since the last check (``check``, every
``APPROVAL_BOT_AUDIT_CHECK_SECONDS``) and walks the whole chain again every
``APPROVAL_BOT_AUDIT_FULL_CHECK_HOURS``; `audit verify` walks it all. Each keeps its result
(``AuditLog.save_check``): the last event that checked out, or the problem. The console
shows that result (``status``), walking at most ``PAGE_BUDGET`` newer events itself.

An incremental check starts from the kept (seq, hash): it re-reads that event, so a chain
re-hashed from an earlier edit onwards, or cut back, is caught at once (and then walked in full
to name the first bad event, when a signature or link shows it); an event edited before the
checkpoint without re-hashing is caught by the next full walk. docs/audit-log.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.audit import GENESIS, AuditCheck, AuditRecord, Checkpoint, walk_chain
from bot.domain.audit_keys import Keyring
from bot.ports.clock import Clock
from bot.ports.store import UnitOfWorkFactory
from bot.service.clock import SystemClock

PAGE_BUDGET = 2000  # events the console may check itself before it shows the kept result


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """What the console shows: the newest result, and how far the log has gone since."""

    check: AuditCheck | None  # None: never checked, and too long to check on a page view
    head_seq: int  # events written

    @property
    def unchecked(self) -> int:
        """Events written after the last one that checked out (0 once a problem is found)."""
        if self.check is None:
            return self.head_seq
        if self.check.problem is not None:
            return 0
        return max(self.head_seq - self.check.last.seq, 0)


class AuditChecks:
    def __init__(
        self, uow: UnitOfWorkFactory, *, clock: Clock | None = None, keys: Keyring | None = None
    ) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()
        self.keys = keys or Keyring()

    def verify(self) -> AuditCheck:
        """Walk the whole chain (streamed: memory stays flat) and keep the result."""
        check = self._walk(None, self.clock.now())
        self._keep(check)
        return check

    def check(self, *, full_every: timedelta | None = None) -> AuditCheck:
        """Check the events written since the last check (everything, when there was none,
        when it found a problem, or when the last full walk is ``full_every`` old); keep it."""
        now = self.clock.now()
        with self.uow(readonly=True) as uow:
            kept = uow.audit.last_check()
        if kept is None or kept.signatures != self.keys.configured:
            return self.verify()
        full_due = full_every is not None and (
            kept.full_at is None or now - kept.full_at >= full_every
        )
        if full_due:
            return self.verify()
        if kept.problem is not None:
            return kept  # it stays found until a full walk says otherwise
        check = self._walk(kept, now)
        if check.problem is not None and check.problem.seq <= kept.last.seq:
            # Something already checked changed: a full walk names the first bad event. If it
            # finds none, the whole log was rewritten consistently (unsigned, or with the key):
            # what the last check saw is the evidence, and stays the result.
            full = self._walk(None, now)
            check = full if full.problem is not None else check
        self._keep(check)
        return check

    def status(self, budget: int | None = None) -> AuditStatus:
        """The kept result, brought up to date here when at most ``budget`` events
        (``PAGE_BUDGET``) are new. Reads only; keeps nothing."""
        budget = PAGE_BUDGET if budget is None else budget
        now = self.clock.now()
        with self.uow(readonly=True) as uow:
            kept = uow.audit.last_check()
            head = uow.audit.head()
        head_seq = head.seq if head else 0
        status = AuditStatus(kept, head_seq)
        if kept is not None and kept.problem is not None:
            return status
        at = (head.seq, head.hash) if head is not None else (0, GENESIS)
        if kept is not None and at == (kept.last.seq, kept.last.hash):
            return status
        if status.unchecked > budget:
            return status
        check = self._walk(kept, now)
        return AuditStatus(check, check.head_seq)

    def signed_from(self) -> int | None:
        """The first signed event of the log, as its head says; None: nothing is signed."""
        with self.uow(readonly=True) as uow:
            head = uow.audit.head()
        return head.signed_from if head is not None else None

    def _walk(self, kept: AuditCheck | None, now: datetime) -> AuditCheck:
        start = kept.last if kept is not None and kept.problem is None else Checkpoint()
        with self.uow(readonly=True) as uow:
            head, records = uow.audit.chain(from_seq=max(start.seq, 1))
            try:
                report = walk_chain(records, head, self.keys, start=start)
            finally:
                _close(records)
        full = start.seq == 0
        return AuditCheck(
            checked_at=now,
            last=report.last,
            head_seq=head.seq if head is not None else 0,
            signatures=report.signatures,
            full_at=now if full else (kept.full_at if kept else None),
            problem=report.problem,
        )

    def _keep(self, check: AuditCheck) -> None:
        with self.uow() as uow:
            uow.audit.save_check(check)
            uow.commit()


def _close(records: Iterator[AuditRecord]) -> None:
    """End a walk that stopped at a problem: a server-side cursor closes inside its
    transaction."""
    close = getattr(records, "close", None)
    if close is not None:
        close()


def signing_note(check: AuditCheck) -> str:
    """One sentence on what the check could vouch for: signatures, or the hash chain only."""
    first = check.last.signed_from
    if not check.signatures:
        if first is not None:
            return (
                f"The events from #{first} on are signed, but no audit key is set here to "
                "check them (APPROVAL_BOT_AUDIT_KEY): only the hash chain was checked."
            )
        return (
            "The log is not signed (APPROVAL_BOT_AUDIT_KEY is not set): anyone who can write "
            "the database could rewrite it and its hash chain (docs/audit-log.md)."
        )
    if first is None:
        return (
            "No event is signed yet: the audit key signs the next one (until then, only the "
            "hash chain was checked)."
        )
    if first == 1:
        return "Every event is signed with the audit key."
    return (
        f"Signed with the audit key from event #{first} on; #1 to #{first - 1} were written "
        f"before the key was set, and are vouched for as they were when #{first} was signed."
    )
