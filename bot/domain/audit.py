"""The tamper-evident audit log: a hash chain over canonical JSON, signed with a key that the
database does not hold.

``hash = sha256(prev_hash + canonical_json(event))`` where the event includes its sequence
number, so an edited, inserted, deleted or renumbered row breaks the chain at a row that
``walk_chain`` names. Anyone who can write the database could still recompute the whole
chain after an edit, so every record is also signed, ``mac = HMAC-SHA256(key, hash)``, with
a key from the bot's Secret (``bot.domain.audit_keys``), and so is the one-row head (which
catches a cut-off tail). Events written before a key was set stay unsigned: a log is an
unsigned prefix, then signed events only. docs/audit-log.md says what this protects against
and what it does not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.audit_keys import Keyring, head_mac, record_mac

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    kind: str
    actor: str
    request_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    key_id: str | None = None  # the audit key that signed it; None: written without a key
    mac: str | None = None
    # How many refusals a `denied` event stands for (repeats within the window are counted
    # beside the chain, not written: bot/service/refusals.py). Not part of the hash.
    repeats: int = 1

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "request_id": self.request_id,
            "data": self.data,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.body(),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "key_id": self.key_id,
            "mac": self.mac,
        }


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last written event, as the one-row head records it (signed with a key)."""

    seq: int
    hash: str
    key_id: str | None = None
    mac: str | None = None
    signed_from: int | None = None  # the first signed event; None: none is


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last event a walk vouched for; the next walk may go on from it."""

    seq: int = 0
    hash: str = GENESIS
    signed_from: int | None = None  # the first signed event seen; None: none so far


@dataclass(frozen=True, slots=True)
class ChainReport:
    walked: int  # the events this walk read
    last: Checkpoint  # the last event that checked out
    problem: ChainProblem | None
    signatures: bool  # whether signatures were checked (an audit key is configured)


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """A check of the chain as it is kept for the console and for the next check."""

    checked_at: datetime
    last: Checkpoint  # the last event that checked out
    head_seq: int  # the last written event when it ran
    signatures: bool  # signatures were checked (an audit key was configured)
    full_at: datetime | None  # when the whole chain was last walked
    problem: ChainProblem | None


def verify_chain(
    records: Iterable[AuditRecord],
    head: AuditHead | None,
    keys: Keyring | None = None,
) -> ChainProblem | None:
    """The first problem in the whole chain, or None when it is intact."""
    return walk_chain(records, head, keys).problem


def walk_chain(
    records: Iterable[AuditRecord],
    head: AuditHead | None,
    keys: Keyring | None = None,
    *,
    start: Checkpoint | None = None,
) -> ChainReport:
    """Check ``records`` in order and report the first problem.

    From the start of the log, or from ``start``: then ``records`` begin with that
    checkpoint's own event, which must still be the event that was checked (an edit at or
    before it, re-hashed onwards, changes its hash). The last record must be the ``head``
    (which catches a deleted tail). With ``keys``, signatures are checked as well.
    """
    walk = _Walk(keys or Keyring(), start or Checkpoint())
    for rec in records:
        problem = walk.step(rec)
        if problem is not None:
            return walk.report(problem)
    if walk.resume is not None:  # not even the checkpoint's own event came
        seq = walk.resume.seq
        return walk.report(
            ChainProblem(seq, f"event #{seq}: checked before, it is gone (the log was cut back)")
        )
    return walk.report(walk.end(head))


class _Walk:
    def __init__(self, keys: Keyring, start: Checkpoint) -> None:
        self.keys = keys
        self.resume = start if start.seq else None
        self.next = start.seq + 1
        self.prev = start.hash
        self.signed_from = start.signed_from
        self.walked = 0

    def report(self, problem: ChainProblem | None) -> ChainReport:
        last = Checkpoint(self.next - 1, self.prev, self.signed_from)
        return ChainReport(self.walked, last, problem, self.keys.configured)

    def step(self, rec: AuditRecord) -> ChainProblem | None:
        self.walked += 1
        if self.resume is not None:
            start, self.resume = self.resume, None
            if rec.seq != start.seq or rec.hash != start.hash:
                return ChainProblem(
                    start.seq,
                    f"event #{start.seq}: is no longer the event checked before (its hash "
                    "changed): it, or an event before it, was rewritten",
                )
        elif rec.seq != self.next or rec.prev_hash != self.prev:
            return _broken_link(rec, self.next, self.prev)
        if chain_hash(rec.prev_hash, rec.body()) != rec.hash:
            return ChainProblem(rec.seq, f"{_label(rec)}: content does not match its hash (edited)")
        problem = self._signed(rec)
        if problem is None:
            self.prev = rec.hash
            self.next = rec.seq + 1
        return problem

    def _signed(self, rec: AuditRecord) -> ChainProblem | None:
        label = _label(rec)
        if rec.key_id is None:
            if self.signed_from is not None and rec.seq >= self.signed_from:
                return ChainProblem(
                    rec.seq,
                    f"{label}: not signed, though the events from #{self.signed_from} on are "
                    "(its signature was removed)",
                )
            return None
        if self.signed_from is None:
            self.signed_from = rec.seq
        if not self.keys.configured:
            return None  # nothing to check it with here: the report says so
        key = self.keys.key(rec.key_id)
        if key is None:
            return ChainProblem(rec.seq, f"{label}: {_unknown_key(rec.key_id)}")
        if not hmac.compare_digest(record_mac(key, rec.hash), rec.mac or ""):
            return ChainProblem(
                rec.seq,
                f"{label}: its signature does not match (edited and re-hashed by someone "
                "without the audit key)",
            )
        return None

    def end(self, head: AuditHead | None) -> ChainProblem | None:
        last_seq, last_hash = self.next - 1, self.prev
        if head is None:
            if last_seq == 0:
                return None
            return ChainProblem(
                last_seq, f"event #{last_seq}: the log's head row is missing (deleted)"
            )
        if head.seq != last_seq or head.hash != last_hash:
            return _head_mismatch(head.seq, last_seq)
        return self._signed_head(head)

    def _signed_head(self, head: AuditHead) -> ChainProblem | None:
        signed = self.signed_from or head.signed_from
        if not self.keys.configured or (head.mac is None and signed is None):
            return None
        cut = (
            f"the log's end was rewritten (the head, #{head.seq}, {{}}): events after "
            f"#{head.seq} may have been deleted"
        )
        if head.mac is None or head.key_id is None:
            why = f"is not signed, though the events from #{signed} on are"
            return ChainProblem(head.seq + 1, cut.format(why))
        key = self.keys.key(head.key_id)
        if key is None:
            return ChainProblem(head.seq, f"the log's head: {_unknown_key(head.key_id)}")
        expected = head_mac(key, head.seq, head.hash, head.signed_from)
        if not hmac.compare_digest(expected, head.mac):
            return ChainProblem(head.seq + 1, cut.format("does not match its signature"))
        if head.signed_from != self.signed_from:
            first = head.signed_from or head.seq
            return ChainProblem(
                first,
                f"event #{first}: not signed, though the log's head says the events from "
                f"#{first} on are (signatures were removed)",
            )
        return None


def _unknown_key(key_id: str) -> str:
    return (
        f"signed with audit key {key_id!r}, which is not configured here: add it to "
        "APPROVAL_BOT_AUDIT_VERIFY_KEYS (docs/audit-log.md, key rotation)"
    )


def _head_mismatch(head_seq: int, last_seq: int) -> ChainProblem:
    if head_seq > last_seq:
        return ChainProblem(
            last_seq + 1,
            f"event #{last_seq + 1}: missing; the log ends at #{last_seq} "
            f"but the last written event was #{head_seq} (deleted)",
        )
    seq = head_seq + 1 if head_seq < last_seq else last_seq
    return ChainProblem(
        seq, f"event #{seq}: not written by the bot (the last written event was #{head_seq})"
    )


def _label(rec: AuditRecord) -> str:
    request = f", request {rec.request_id}" if rec.request_id else ""
    return f"event #{rec.seq} ({rec.kind}{request})"


def _broken_link(rec: AuditRecord, expected_seq: int, prev_hash: str) -> ChainProblem:
    label = _label(rec)
    if rec.seq > expected_seq:
        missing = (
            f"#{expected_seq}"
            if rec.seq == expected_seq + 1
            else f"#{expected_seq}..#{rec.seq - 1}"
        )
        return ChainProblem(rec.seq, f"{label}: event {missing} before it was deleted")
    if rec.seq < expected_seq:
        return ChainProblem(rec.seq, f"{label}: out of sequence (expected #{expected_seq})")
    return ChainProblem(
        rec.seq,
        f"{label}: prev_hash does not match the event before it "
        "(an event was inserted, deleted or edited before it)",
    )
