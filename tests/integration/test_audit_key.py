"""The audit log signed with a key the database does not hold (docs/audit-log.md): what
someone who can write the database, but has not got the key, can no longer do unseen. On
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from bot.adapters.db import SqlUnitOfWorkFactory
from bot.adapters.registry import identity_kinds
from bot.domain.audit_keys import AuditKeyMissing, Keyring
from bot.service import Services, build_services
from bot.service.audit import signing_note
from tests import builders
from tests.fakes import FakeClock
from tests.support.audit import K1, K2, decide, events, rewrite, to_mallory

Build = Callable[..., Services]


@pytest.fixture
def build(engine: Engine) -> Build:
    """The services of a process with these audit key settings (one shared clock)."""
    clock = FakeClock()

    def make(key: str | None = None, verify_keys: str | None = None) -> Services:
        keys = Keyring.parse(key, verify_keys)
        uow = SqlUnitOfWorkFactory(engine, audit_keys=keys)
        return build_services(
            uow, clock=clock, channels=("console",), identities=identity_kinds(), audit_keys=keys
        )

    return make


def test_a_chain_rewritten_without_the_key_is_caught(engine, build):
    svc = build(K1)
    svc.admin.apply(builders.directory())
    decide(svc)
    assert svc.audit.verify().problem is None
    seq = rewrite(engine, to_mallory)
    # The unsigned chain alone cannot tell: it was re-hashed.
    assert build().admin.verify_audit()[1] is None
    problem = svc.audit.verify().problem
    assert problem is not None and problem.seq == seq
    assert f"event #{seq} (decided" in problem.message
    assert "signature does not match" in problem.message


def test_a_cut_tail_is_caught_by_the_signed_head(engine, build):
    svc = build(K1)
    svc.admin.apply(builders.directory())
    decide(svc)
    last = events(engine)[-1].seq
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= :s"), {"s": last - 1})
        conn.execute(
            text(
                "UPDATE audit_head SET seq = :s, "
                "hash = (SELECT hash FROM audit_events WHERE seq = :s)"
            ),
            {"s": last - 2},
        )
    assert build().admin.verify_audit()[1] is None  # the unsigned check is fooled
    problem = svc.audit.verify().problem
    assert problem is not None and problem.seq == last - 1
    assert "the log's end was rewritten" in problem.message


def test_removed_signatures_are_caught(engine, build):
    svc = build(K1)
    svc.admin.apply(builders.directory())
    decide(svc)
    last = events(engine)[-1].seq
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET key_id = NULL, mac = NULL WHERE seq >= 2"))
    problem = svc.audit.verify().problem
    assert (
        problem is not None and problem.seq == 2 and "its signature was removed" in problem.message
    )
    with engine.begin() as conn:  # every one of them, and the head's too
        conn.execute(text("UPDATE audit_events SET key_id = NULL, mac = NULL"))
        conn.execute(text("UPDATE audit_head SET mac = NULL"))
    problem = svc.audit.verify().problem
    assert problem is not None and problem.seq == last + 1
    assert "is not signed, though the events from #1 on are" in problem.message
    # What the database alone cannot tell: every trace of the key removed looks like a log
    # written before the key was set. The check says so (docs/audit-log.md, limits).
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET key_id = NULL, signed_from = NULL"))
    check = svc.audit.verify()
    assert check.problem is None and signing_note(check).startswith("No event is signed yet")


def test_events_from_before_the_key_verify_and_are_reported_unsigned(engine, build):
    """An existing database: what was written before the key was set is unsigned; the key
    signs from the next event on, and the whole log verifies."""
    old = build()
    old.admin.apply(builders.directory())
    decide(old)
    unsigned = events(engine)[-1].seq
    svc = build(K1)
    decide_again = svc.commands.submit(builders.submission(model_version="4", staging_run_id="s4"))
    check = svc.audit.verify()
    assert check.problem is None and check.last.signed_from == unsigned + 1
    assert check.last.seq == events(engine)[-1].seq and decide_again.created
    note = signing_note(check)
    assert f"from event #{unsigned + 1} on; #1 to #{unsigned} were written before the key" in note
    assert [r.key_id for r in events(engine)] == [None] * unsigned + ["k1"] * (
        check.last.seq - unsigned
    )


def test_a_rotated_key_verifies_with_the_old_one_kept_for_verifying(engine, build):
    first = build(K1)
    first.admin.apply(builders.directory())
    rotated = build(K2, verify_keys=K1)
    decide(rotated)
    assert {r.key_id for r in events(engine)} == {"k1", "k2"}
    assert rotated.audit.verify().problem is None
    problem = build(K2).audit.verify().problem  # the old key dropped too early
    assert problem is not None and problem.seq == 1
    assert "signed with audit key 'k1', which is not configured here" in problem.message
    # Without any key, only the hash chain can be checked, and the note says so.
    check = build().audit.verify()
    assert check.problem is None and "only the hash chain was checked" in signing_note(check)


def test_a_signed_log_is_not_continued_unsigned(engine, build):
    build(K1).admin.apply(builders.directory())
    before = events(engine)
    with pytest.raises(AuditKeyMissing, match="APPROVAL_BOT_AUDIT_KEY is not set here"):
        build().commands.submit(builders.submission())
    assert events(engine) == before
