"""The veto window (README.md, "Rules"; bot/domain/window.py): a policy approves a request
whose gates all passed once its quiet period ends, unless someone rejects it first. On the
in-memory fakes and on SQLite and PostgreSQL, time moved by a FakeClock (no sleeps)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.registry import identity_kinds
from bot.domain import errors
from bot.domain.effects import CHAT_UPDATE, LAUNCH_PROMOTION, LOG_DECISION
from bot.domain.model import State, VoteKind
from bot.domain.window import written
from bot.entrypoints import render
from bot.service import Services, build_services
from bot.service.identity import Identity
from bot.service.views import request_to_dict
from tests import builders
from tests.builders import parse_config
from tests.fakes import FakeClock

WINDOW = timedelta(minutes=30)


def cli(name: str) -> Identity:
    return Identity("cli", name)


def window_config(**fields: object) -> dict:
    policy = builders.policy_patch(**{"auto_approve_after": "30m", **fields})
    return builders.config_dict(policies=policy)


@pytest.fixture
def svc(service: Services) -> Services:
    service.admin.apply(parse_config(window_config()))
    return service


def records(svc: Services, rid: str) -> list:
    with svc.uow() as uow:
        return list(uow.audit.records(rid))


def kinds(svc: Services, rid: str) -> list[str]:
    return [r.kind for r in records(svc, rid)]


def effects(svc: Services, rid: str, kind: str) -> list:
    with svc.uow() as uow:
        return [i for i in uow.outbox.items(limit=1000) if i.request_id == rid and i.kind == kind]


def test_the_window_approves_at_its_time_as_the_policys_decision(svc, clock):
    submitted = clock.now()
    rid = svc.commands.submit(builders.submission()).request.id
    request = svc.queries.get(rid)
    assert request.auto_approve_at == submitted + WINDOW
    assert request.auto_approve_policy == "*"
    [submit] = records(svc, rid)
    assert submit.data["auto_approve_at"] == (submitted + WINDOW).isoformat()
    shown = request_to_dict(request)
    assert (shown["auto_approve_at"], shown["auto_approve_policy"]) == (
        "2026-01-05T09:30:00+00:00",
        "*",
    )
    assert "promotes at 2026-01-05 09:30 UTC unless rejected (veto window of policy *)" in (
        render.show(request, None, [])
    )

    clock.advance(minutes=29, seconds=59)
    assert svc.commands.scan_due().auto_approved == []
    assert svc.queries.get(rid).state is State.PENDING
    clock.advance(seconds=1)
    assert svc.commands.scan_due().auto_approved == [rid]
    assert svc.commands.scan_due().auto_approved == []  # once

    approved = svc.queries.get(rid)
    assert approved.state is State.APPROVED
    assert approved.decided_by == "system:auto"
    assert approved.decided_at == submitted + WINDOW
    assert "policy '*'" in (approved.reason or "") and "30m veto window" in (approved.reason or "")
    decided = records(svc, rid)[-1]
    assert (decided.kind, decided.actor) == ("decided", "system:auto")
    assert decided.data["decision"] == "approved" and decided.data["policy"] == "*"
    assert kinds(svc, rid) == ["submitted", "decided"]
    assert [i.payload for i in effects(svc, rid, LOG_DECISION)] == [{"decision": "approved"}]
    assert len(effects(svc, rid, LAUNCH_PROMOTION)) == 1


def test_a_reject_inside_the_window_wins(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    clock.advance(minutes=10)
    svc.commands.vote(rid, cli("carol"), VoteKind.REJECT, comment="not this one")
    clock.advance(minutes=30)
    assert svc.commands.scan_due().auto_approved == []
    rejected = svc.queries.get(rid)
    assert rejected.state is State.REJECTED and rejected.decided_by == "carol"
    assert effects(svc, rid, LAUNCH_PROMOTION) == []


def test_approve_now_is_a_vote_that_still_needs_the_quorum(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    one = svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE)
    assert not one.decided, "one approval of two rules does not decide"
    assert svc.queries.get(rid).in_window, "the window goes on"
    both = svc.commands.vote(rid, cli("carol"), VoteKind.APPROVE)
    assert both.decided and both.request.decided_by == "bob,carol"
    clock.advance(minutes=31)
    assert svc.commands.scan_due().auto_approved == []
    assert kinds(svc, rid).count("decided") == 1


def test_a_failed_gate_means_no_window(svc, clock):
    rid = svc.commands.submit(builders.submission(gates=builders.gates(failed=True))).request.id
    request = svc.queries.get(rid)
    assert request.auto_approve_at is None and not request.in_window
    assert request.next_reminder_at is not None, "it waits for people, reminded as ever"
    clock.advance(hours=1)
    assert svc.commands.scan_due().auto_approved == []
    assert svc.queries.get(rid).state is State.PENDING
    clock.advance(hours=11)
    assert svc.commands.scan_due().reminded == [rid]


def test_no_gates_means_no_window(svc):
    rid = svc.commands.submit(builders.submission(gates=[])).request.id
    assert svc.queries.get(rid).auto_approve_at is None


def test_an_override_leaves_the_request_to_people(service, clock):
    service.admin.apply(parse_config(window_config(allow_override_failed_gates=True)))
    rid = service.commands.submit(builders.submission(gates=builders.gates(failed=True))).request.id
    vote = service.commands.vote(rid, cli("bob"), VoteKind.APPROVE, comment="known flake")
    assert vote.vote.override and not vote.decided
    clock.advance(hours=1)
    assert service.commands.scan_due().auto_approved == []
    assert service.queries.get(rid).state is State.PENDING
    clock.advance(hours=11)
    assert service.commands.scan_due().reminded == [rid]
    service.commands.vote(rid, cli("carol"), VoteKind.APPROVE)
    decided = service.queries.get(rid)
    assert decided.state is State.APPROVED and decided.decided_by == "bob,carol"
    assert decided.override


def test_no_reminder_escalation_or_expiry_inside_the_window(service, clock):
    policy = window_config(
        auto_approve_after="47h", remind_every="1h", escalate_after="2h", deadline="48h"
    )
    service.admin.apply(parse_config(policy))
    rid = service.commands.submit(builders.submission()).request.id
    for _ in range(46):
        clock.advance(hours=1)
        due = service.commands.scan_due()
        assert (due.reminded, due.escalated, due.expired, due.auto_approved) == ([], [], [], [])
    assert kinds(service, rid) == ["submitted"]
    clock.advance(hours=1)
    assert service.commands.scan_due().auto_approved == [rid]
    assert kinds(service, rid) == ["submitted", "decided"]


def test_a_scan_late_past_the_deadline_still_approves_the_window_ended_first(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    clock.advance(hours=49)  # the scheduler was down for two days
    due = svc.commands.scan_due()
    assert (due.auto_approved, due.expired) == ([rid], [])
    assert svc.queries.get(rid).decided_by == "system:auto"


def test_a_policy_that_no_longer_approves_by_itself_closes_the_window(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    svc.admin.apply(builders.directory())  # the example policy: no auto_approve_after
    clock.advance(minutes=30)
    due = svc.commands.scan_due()
    assert (due.auto_approved, due.window_closed) == ([], [rid])
    request = svc.queries.get(rid)
    assert request.state is State.PENDING and not request.in_window
    closed = records(svc, rid)[-1]
    assert (closed.kind, closed.actor) == ("window_closed", "system")
    assert "no longer approves by itself" in closed.data["reason"]
    assert effects(svc, rid, CHAT_UPDATE), "the messages stop saying when it promotes"
    clock.advance(hours=12)
    assert svc.commands.scan_due().reminded == [rid]  # waiting for people, as ever


def test_a_vote_after_the_window_ended_but_before_the_scan_decides_as_people(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    clock.advance(minutes=45)
    svc.commands.vote(rid, cli("carol"), VoteKind.REJECT, comment="caught it in time")
    assert svc.commands.scan_due().auto_approved == []
    assert svc.queries.get(rid).state is State.REJECTED


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"auto_approve_after": "48h"}, "must end before the deadline (48h)"),
        ({"auto_approve_after": "2h", "deadline": "1h"}, "must end before the deadline (1h)"),
        ({"auto_approve_after": "soon"}, "bad duration 'soon'"),
        ({"auto_approve_after": "366d", "deadline": "400d"}, "longer than the maximum"),
    ],
)
def test_apply_refuses_a_window_that_cannot_work(fields, problem):
    with pytest.raises(errors.ConfigError) as exc:
        parse_config(builders.config_dict(policies=builders.policy_patch(**fields)))
    assert "policies[0].auto_approve_after" in str(exc.value) or "deadline" in str(exc.value)
    assert problem in str(exc.value)


def test_the_example_config_keeps_a_human_decision():
    from pathlib import Path

    import yaml

    raw = yaml.safe_load((Path(__file__).parents[2] / "examples" / "config.yaml").read_text())
    assert all(p.auto_approve_after is None for p in parse_config(raw).policies)


def test_two_replicas_approve_once(migrated_url):
    """Two processes' services (their own engines) scan at once, three threads each: every
    request in its window is approved once, with one decision and one of each effect."""
    clock = FakeClock()
    engines = [make_engine(migrated_url) for _ in range(2)]
    replicas = [
        build_services(
            SqlUnitOfWorkFactory(e), clock=clock, channels=("console",), identities=identity_kinds()
        )
        for e in engines
    ]
    a = replicas[0]
    a.admin.apply(parse_config(window_config()))
    ids = [
        a.commands.submit(
            builders.submission(model_name=f"m{i}", staging_run_id=f"s{i}")
        ).request.id
        for i in range(6)
    ]
    clock.advance(minutes=30)
    scanners = [svc for svc in replicas for _ in range(3)]
    barrier = threading.Barrier(len(scanners))
    approved: list[str] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def scan(svc: Services) -> None:
        barrier.wait(timeout=30)
        try:
            found = svc.commands.scan_due().auto_approved
        except BaseException as exc:  # reported below
            unexpected.append(exc)
            return
        with lock:
            approved.extend(found)

    threads = [threading.Thread(target=scan, args=(svc,)) for svc in scanners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not any(t.is_alive() for t in threads)
        assert unexpected == []
        assert sorted(approved) == sorted(ids), Counter(approved)
        for rid in ids:
            assert kinds(a, rid) == ["submitted", "decided"]
            assert len(effects(a, rid, LOG_DECISION)) == 1
            assert len(effects(a, rid, LAUNCH_PROMOTION)) == 1
        assert a.admin.verify_audit()[1] is None
    finally:
        for e in engines:
            e.dispose()


@pytest.mark.parametrize(
    ("duration", "written_as"),
    [(timedelta(minutes=30), "30m"), (timedelta(hours=1, minutes=30), "1h30m"), (WINDOW * 0, "0s")],
)
def test_a_window_is_named_as_the_config_writes_it(duration, written_as):
    assert written(duration) == written_as
