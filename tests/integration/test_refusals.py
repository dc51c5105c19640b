"""Refused votes do not flood the audit log: one event per refusal and window, an unknown
identity capped over all requests, nothing for "already voted/decided" (README.md, Audit log).
On the in-memory fakes and on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.domain import errors
from bot.domain.model import VoteKind
from bot.service import Services
from bot.service.identity import Identity
from bot.service.refusals import UNKNOWN_CAP, WINDOW
from bot.service.views import event_summary, request_to_dict
from tests import builders

STRANGER = Identity("telegram", "4242")  # nobody in the config


@pytest.fixture
def svc(service: Services) -> Services:
    service.admin.apply(builders.directory())
    return service


def denied(svc: Services, request_id: str) -> list[tuple[str, str, int]]:
    """(actor, why, repeats) of each `denied` event of the request."""
    with svc.uow() as uow:
        records = uow.audit.records(request_id)
    return [(r.actor, r.data["why"], r.repeats) for r in records if r.kind == "denied"]


def submit(svc: Services, model: str = "iris-classifier") -> str:
    return svc.commands.submit(builders.submission(model_name=model)).request.id


def test_thirty_refusals_of_an_unenrolled_telegram_user_make_one_event(svc):
    """What 30 `/approve ID` from one unenrolled Telegram user come to: one event, counted 30."""
    rid = submit(svc)
    for _ in range(30):
        with pytest.raises(errors.UnknownPerson):
            svc.commands.vote(rid, STRANGER, VoteKind.APPROVE)
    assert denied(svc, rid) == [("telegram user 4242", "unknown_person", 30)]
    assert svc.admin.verify_audit()[1] is None
    # Every reader shows the count: the timelines' line, the API's and the CLI's JSON.
    request = svc.queries.get(rid)
    [event] = [r for r in svc.queries.history([request])[rid] if r.kind == "denied"]
    assert event_summary(event).startswith("approve refused (×30): ")
    history = request_to_dict(request, history=[event])["history"]
    assert history[0]["repeats"] == 30


def test_the_same_refusal_after_its_window_is_a_new_event(svc, clock):
    rid = submit(svc)
    dave = Identity("slack", "U04DAVE")  # enrolled, in no approver group
    for _ in range(3):
        with pytest.raises(errors.NotEligible):
            svc.commands.vote(rid, dave, VoteKind.APPROVE)
        clock.advance(minutes=1)
    clock.advance(seconds=WINDOW.total_seconds())
    with pytest.raises(errors.NotEligible):
        svc.commands.vote(rid, dave, VoteKind.APPROVE)
    assert denied(svc, rid) == [
        ("slack user U04DAVE", "not_eligible", 3),
        ("slack user U04DAVE", "not_eligible", 1),
    ]


def test_another_reason_or_another_person_is_another_event(svc):
    rid = submit(svc)
    bob = Identity("slack", "U02BOB")
    with pytest.raises(errors.ReasonRequired):
        svc.commands.vote(rid, bob, VoteKind.REJECT, comment="")
    with pytest.raises(errors.SelfApproval):
        svc.commands.vote(rid, Identity("slack", "U01ALICE"), VoteKind.APPROVE)
    with pytest.raises(errors.ReasonRequired):
        svc.commands.vote(rid, bob, VoteKind.REJECT, comment="")
    assert denied(svc, rid) == [
        ("slack user U02BOB", "reason_required", 2),
        ("slack user U01ALICE", "self_approval", 1),
    ]


def test_an_unknown_identity_is_capped_over_all_requests(svc, clock):
    rids = [submit(svc, f"model-{i}") for i in range(UNKNOWN_CAP + 3)]
    for rid in rids:
        with pytest.raises(errors.UnknownPerson):
            svc.commands.vote(rid, STRANGER, VoteKind.APPROVE)
    written = [rid for rid in rids if denied(svc, rid)]
    assert written == rids[:UNKNOWN_CAP]
    # An enrolled person is not capped by the stranger's flood.
    with pytest.raises(errors.NotEligible):
        svc.commands.vote(rids[-1], Identity("slack", "U04DAVE"), VoteKind.APPROVE)
    assert denied(svc, rids[-1]) == [("slack user U04DAVE", "not_eligible", 1)]
    # A window later, the stranger's refusals are written again.
    clock.advance(seconds=WINDOW.total_seconds() + 1)
    with pytest.raises(errors.UnknownPerson):
        svc.commands.vote(rids[-2], STRANGER, VoteKind.APPROVE)
    assert denied(svc, rids[-2]) == [("telegram user 4242", "unknown_person", 1)]
    assert svc.admin.verify_audit()[1] is None


def test_a_vote_its_channel_refused_is_audited_and_capped_like_an_unknown_one(svc):
    """``Commands.refuse``: a person of another Slack workspace (issue 22) is refused by the
    channel; the attempt is a `denied` event, repeats counted, capped over all requests."""
    bob = Identity("slack", "U02BOB")  # enrolled, but clicking from another workspace
    refusal = errors.Stranger("your Slack account (U02BOB) belongs to another workspace")
    rids = [submit(svc, f"model-{i}") for i in range(UNKNOWN_CAP + 2)]
    for rid in rids:
        svc.commands.refuse(rid, bob, VoteKind.APPROVE, refusal)
    svc.commands.refuse(rids[0], bob, VoteKind.APPROVE, refusal)
    assert denied(svc, rids[0]) == [("slack user U02BOB", "stranger", 2)]
    assert [rid for rid in rids if denied(svc, rid)] == rids[:UNKNOWN_CAP]
    assert svc.queries.get(rids[0]).votes == []
    with pytest.raises(errors.UnknownRequest):
        svc.commands.refuse("nope", bob, VoteKind.APPROVE, refusal)


def test_already_voted_and_already_decided_write_nothing(svc):
    rid = submit(svc)
    bob = Identity("telegram", "1002")
    svc.commands.vote(rid, bob, VoteKind.APPROVE)
    with svc.uow() as uow:
        before = uow.audit.head()
    with pytest.raises(errors.AlreadyVoted):
        svc.commands.vote(rid, bob, VoteKind.APPROVE)
    svc.commands.vote(rid, Identity("telegram", "1003"), VoteKind.APPROVE)
    with svc.uow() as uow:
        decided = uow.audit.head()
    for who in ("1002", "1003", "1001"):
        with pytest.raises(errors.AlreadyDecided):
            svc.commands.vote(rid, Identity("telegram", who), VoteKind.REJECT, comment="late")
    with svc.uow() as uow:
        assert uow.audit.head() == decided
    assert decided is not None and before is not None and decided.seq == before.seq + 2
    assert denied(svc, rid) == []


def test_the_cap_holds_when_an_unknown_identity_is_refused_everywhere_at_once(migrated_url):
    """Refused on many requests at once, from separate connections: still the cap."""
    import threading

    from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
    from bot.service import build_services

    n = UNKNOWN_CAP * 3
    engine = make_engine(migrated_url)
    try:
        svc = build_services(SqlUnitOfWorkFactory(engine), channels=("console",))
        svc.admin.apply(builders.directory())
        rids = [submit(svc, f"model-{i}") for i in range(n)]
        barrier = threading.Barrier(n)
        refused: list[type[BaseException]] = []

        def attempt(rid: str) -> None:
            barrier.wait(timeout=30)
            try:
                svc.commands.vote(rid, STRANGER, VoteKind.APPROVE)
            except BaseException as exc:  # the assertion says which
                refused.append(type(exc))

        threads = [threading.Thread(target=attempt, args=(rid,)) for rid in rids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert refused == [errors.UnknownPerson] * n
        assert sum(len(denied(svc, rid)) for rid in rids) == UNKNOWN_CAP
    finally:
        engine.dispose()
