from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.domain.audit import GENESIS, AuditRecord, chain_hash, verify_chain


def chain(n: int) -> list[AuditRecord]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        rec = AuditRecord(
            seq,
            datetime(2026, 1, 1, tzinfo=UTC),
            "voted",
            "alice",
            "r1",
            {"vote": "approve", "n": seq},
            prev,
            "",
        )
        rec = replace(rec, hash=chain_hash(prev, rec.body()))
        out.append(rec)
        prev = rec.hash
    return out


def head(records):
    return (records[-1].seq, records[-1].hash)


def test_intact_chain_verifies():
    recs = chain(5)
    assert verify_chain(recs, head(recs)) is None
    assert verify_chain([], None) is None


def test_edited_event_is_named():
    recs = chain(5)
    h = head(recs)
    recs[2] = replace(recs[2], actor="mallory")
    problem = verify_chain(recs, h)
    assert problem is not None and problem.seq == 3
    assert "edited" in problem.message


def test_deleted_middle_event_is_named():
    recs = chain(5)
    h = head(recs)
    del recs[1]
    problem = verify_chain(recs, h)
    assert problem is not None and problem.seq == 3
    assert "#2" in problem.message and "deleted" in problem.message


def test_deleted_tail_is_caught_by_the_head():
    recs = chain(5)
    h = head(recs)
    problem = verify_chain(recs[:-1], h)
    assert problem is not None and problem.seq == 5 and "deleted" in problem.message


def test_appended_forged_event_is_caught_by_the_head():
    recs = chain(5)
    h = head(recs)
    forged = AuditRecord(6, recs[0].at, "decided", "mallory", "r1", {}, recs[-1].hash, "")
    forged = replace(forged, hash=chain_hash(forged.prev_hash, forged.body()))
    problem = verify_chain([*recs, forged], h)
    assert problem is not None and problem.seq == 6 and "not written by the bot" in problem.message


def test_inserted_event_with_recomputed_hash_breaks_the_next_link():
    recs = chain(4)
    h = head(recs)
    # Renumber to squeeze a forged event in at #3; its own hash is valid.
    forged = AuditRecord(3, recs[0].at, "voted", "mallory", "r1", {}, recs[1].hash, "")
    forged = replace(forged, hash=chain_hash(forged.prev_hash, forged.body()))
    shifted = [replace(r, seq=r.seq + 1) for r in recs[2:]]
    problem = verify_chain([*recs[:2], forged, *shifted], h)
    assert problem is not None and problem.seq == 4
