"""The tamper-evident audit log: a hash chain over canonical JSON.

``hash = sha256(prev_hash + canonical_json(event))`` where the event includes its
sequence number, so an edited, inserted, deleted or renumbered row breaks the
chain at a row that ``verify_chain`` names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


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


def verify_chain(
    records: Iterable[AuditRecord], head: tuple[int, str] | None
) -> ChainProblem | None:
    """Return the first problem in the chain, or None when it is intact.

    ``head`` is the (seq, hash) the log last wrote; it catches a deleted tail.
    """
    prev_hash = GENESIS
    expected_seq = 1
    last_seq = 0
    for rec in records:
        if rec.seq != expected_seq or rec.prev_hash != prev_hash:
            return _broken_link(rec, expected_seq, prev_hash)
        if chain_hash(rec.prev_hash, rec.body()) != rec.hash:
            return ChainProblem(rec.seq, f"{_label(rec)}: content does not match its hash (edited)")
        prev_hash = rec.hash
        expected_seq = rec.seq + 1
        last_seq = rec.seq
    if head is not None:
        head_seq, head_hash = head
        if head_seq != last_seq or head_hash != prev_hash:
            if head_seq > last_seq:
                return ChainProblem(
                    last_seq + 1,
                    f"event #{last_seq + 1}: missing; the log ends at #{last_seq} "
                    f"but the last written event was #{head_seq} (deleted)",
                )
            return ChainProblem(
                head_seq + 1 if head_seq < last_seq else last_seq,
                f"event #{head_seq + 1 if head_seq < last_seq else last_seq}: "
                f"not written by the bot (the last written event was #{head_seq})",
            )
    return None


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
