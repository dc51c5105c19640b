from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.domain.audit import (
    GENESIS,
    AuditHead,
    AuditRecord,
    Checkpoint,
    chain_hash,
    verify_chain,
    walk_chain,
)
from bot.domain.audit_keys import Keyring, head_mac, record_mac


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
    return AuditHead(records[-1].seq, records[-1].hash)


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


# -- signed with an audit key (docs/audit-log.md) ---------------------------------------------

KEYS = Keyring.parse("k1:" + "s" * 40)


def signed(records, keys=KEYS, from_seq=1):
    """The records signed as the bot signs them from ``from_seq`` on, and their head."""
    key = keys.current
    out = [
        replace(r, key_id=key.id, mac=record_mac(key, r.hash)) if r.seq >= from_seq else r
        for r in records
    ]
    last = out[-1]
    return out, AuditHead(
        last.seq, last.hash, key.id, head_mac(key, last.seq, last.hash, from_seq), from_seq
    )


def test_a_re_hashed_edit_passes_the_chain_but_not_the_signatures():
    recs, h = signed(chain(5))
    forged, prev = list(recs[:2]), recs[1].hash
    # Re-hash from the edit on; the signatures cannot be made again, so they stay.
    for r in [replace(recs[2], actor="mallory"), *recs[3:]]:
        r = replace(r, prev_hash=prev)
        r = replace(r, hash=chain_hash(prev, r.body()))
        forged.append(r)
        prev = r.hash
    head_now = replace(h, hash=prev)
    assert verify_chain(forged, head_now) is None  # what an unsigned check sees
    problem = verify_chain(forged, head_now, KEYS)
    assert (
        problem is not None and problem.seq == 3 and "signature does not match" in problem.message
    )


def test_an_unsigned_prefix_verifies_and_is_reported():
    recs, h = signed(chain(5), from_seq=4)
    report = walk_chain(recs, h, KEYS)
    assert report.problem is None and report.last == Checkpoint(5, recs[-1].hash, 4)
    # An unsigned event after a signed one: its signature was removed.
    stripped = [*recs[:4], replace(recs[4], key_id=None, mac=None)]
    problem = verify_chain(stripped, h, KEYS)
    assert problem is not None and problem.seq == 5 and "signature was removed" in problem.message


def test_a_walk_goes_on_from_a_checkpoint_and_notices_it_changed():
    recs, h = signed(chain(6))
    first = walk_chain(recs[:4], None, KEYS)
    assert first.problem is not None  # no head: a log with events must have one
    start = Checkpoint(4, recs[3].hash, 1)
    report = walk_chain(recs[3:], h, KEYS, start=start)
    assert report.problem is None and report.walked == 3 and report.last.seq == 6
    moved = walk_chain(recs[3:], h, KEYS, start=replace(start, hash="f" * 64))
    assert moved.problem is not None and moved.problem.seq == 4
    assert "no longer the event checked before" in moved.problem.message
    gone = walk_chain([], h, KEYS, start=Checkpoint(7, "e" * 64, 1))
    assert gone.problem is not None and "it is gone" in gone.problem.message


@pytest.mark.parametrize(
    ("current", "retired", "problem"),
    [
        ("k1", None, "must be KEY_ID:SECRET"),
        ("bad id:" + "s" * 40, None, "must be KEY_ID:SECRET"),
        ("k1:" + "s" * 31, None, "the secret of key 'k1' must be 32 to 512 characters"),
        ("k1:" + "s" * 39 + ",", None, "the secret of key 'k1' must be"),
        ("k1:" + "s" * 40, "k1:" + "t" * 40, "key id 'k1' is given twice"),
        (None, "k0:" + "t" * 40 + ",k9:short", "the secret of key 'k9' must be"),
    ],
)
def test_a_malformed_key_names_the_problem_and_never_the_secret(current, retired, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        Keyring.parse(current, retired)
    assert "sss" not in str(caught.value) and "ttt" not in str(caught.value)
