"""Checking the audit chain without walking all of it each time (bot/service/audit.py): the
kept result, the incremental check on from it, the full walk when due. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from bot.adapters.db import SqlUnitOfWorkFactory
from bot.adapters.registry import identity_kinds
from bot.domain.audit_keys import Keyring
from bot.service import Services, build_services
from tests import builders
from tests.fakes import FakeClock
from tests.support.audit import K1, decide, events, rewrite, to_mallory

DAY = timedelta(hours=24)


@pytest.fixture
def svc(engine: Engine, clock: FakeClock) -> Services:
    keys = Keyring.parse(K1)
    uow = SqlUnitOfWorkFactory(engine, audit_keys=keys)
    services = build_services(
        uow, clock=clock, channels=("console",), identities=identity_kinds(), audit_keys=keys
    )
    services.admin.apply(builders.directory())
    return services


def edit_quietly(engine: Engine, seq: int) -> None:
    """Change an event's content without re-hashing anything."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": seq})


def test_the_check_goes_on_from_the_last_one(svc, engine, clock):
    decide(svc)
    first = svc.audit.check(full_every=DAY)
    assert first.problem is None and first.full_at == first.checked_at
    assert first.last.seq == first.head_seq == events(engine)[-1].seq
    clock.advance(minutes=1)
    decide_more = svc.commands.submit(builders.submission(model_version="9", staging_run_id="s9"))
    assert decide_more.created
    # An event before the last check, edited without re-hashing: only a full walk reads it.
    edit_quietly(engine, 2)
    second = svc.audit.check(full_every=DAY)
    assert second.problem is None and second.last.seq == events(engine)[-1].seq
    assert second.full_at == first.full_at  # not a full walk
    clock.advance(hours=24)
    third = svc.audit.check(full_every=DAY)
    assert third.problem is not None and third.problem.seq == 2
    assert third.full_at == clock.now()


def test_a_chain_rewritten_before_the_last_check_is_caught_at_once(svc, engine, clock):
    decide(svc)
    svc.audit.check(full_every=DAY)
    seq = rewrite(engine, to_mallory)  # the checkpoint's own event gets a new hash
    clock.advance(minutes=1)
    check = svc.audit.check(full_every=DAY)
    assert check.problem is not None and check.problem.seq == seq  # walked in full to name it
    assert "signature does not match" in check.problem.message


def test_a_problem_found_stays_until_a_full_walk(svc, engine, clock):
    decide(svc)
    edit_quietly(engine, 3)
    found = svc.audit.check(full_every=DAY)
    assert found.problem is not None and found.problem.seq == 3
    clock.advance(minutes=1)
    assert svc.audit.check(full_every=DAY) == found
    assert svc.audit.status().check == found


def test_the_status_catches_up_on_a_few_events_and_keeps_nothing(svc, engine, clock):
    svc.audit.check()
    kept = svc.audit.status().check
    decide(svc)
    status = svc.audit.status(budget=100)
    assert status.check is not None and status.check.last.seq == events(engine)[-1].seq
    assert status.unchecked == 0
    with engine.connect() as conn:
        kept_seq = conn.execute(text("SELECT seq FROM audit_checks")).scalar_one()
    assert kept is not None and kept_seq == kept.last.seq  # nothing written by a page view
    # More new events than the budget: the kept result, and how many are not checked yet.
    over = svc.audit.status(budget=2)
    assert over.check == kept and over.unchecked == events(engine)[-1].seq - kept_seq


def test_an_unsigned_log_rewritten_whole_is_caught_by_the_last_check(engine, clock):
    """Without a key the database alone cannot tell a consistent rewrite from the log; what
    the last check saw can, and stays the result."""
    svc = build_services(
        SqlUnitOfWorkFactory(engine),
        clock=clock,
        channels=("console",),
        identities=identity_kinds(),
    )
    svc.admin.apply(builders.directory())
    decide(svc)
    kept = svc.audit.check(full_every=DAY)
    rewrite(engine, to_mallory)
    clock.advance(minutes=1)
    check = svc.audit.check(full_every=DAY)
    assert check.problem is not None and check.problem.seq == kept.last.seq
    assert "is no longer the event checked before" in check.problem.message
    assert svc.audit.status().check == check
