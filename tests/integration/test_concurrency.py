"""First decision wins: many deciders at once, from separate connections."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.registry import identity_kinds
from bot.domain import errors
from bot.domain.effects import LOG_DECISION
from bot.domain.model import State, VoteKind
from bot.service import build_services
from bot.service.identity import Identity
from tests import builders
from tests.builders import parse_config

ATTEMPTS = 32


def crowd_config() -> dict:
    people = {f"p{i:02d}": {"slack": f"U{i:04d}"} for i in range(24)}
    people["alice"] = {"slack": "U9ALICE"}
    return {
        "people": people,
        "groups": {
            "ml-leads": [f"p{i:02d}" for i in range(12)],
            "sre": [f"p{i:02d}" for i in range(12, 24)],
        },
        "policies": [
            {
                "model": "*",
                "rules": [
                    {"group": "ml-leads", "min_approvals": 2},
                    {"group": "sre", "min_approvals": 2},
                ],
            }
        ],
    }


@pytest.mark.parametrize("mix", ["approvals-only", "with-rejects"])
def test_concurrent_votes_end_in_exactly_one_decision(migrated_url, mix):
    engine = (
        make_engine(migrated_url, pool_size=ATTEMPTS + 4, max_overflow=0)
        if not migrated_url.startswith("sqlite")
        else make_engine(migrated_url)
    )
    svc = build_services(
        SqlUnitOfWorkFactory(engine), channels=("console",), identities=identity_kinds()
    )
    svc.admin.apply(parse_config(crowd_config()))
    rid = svc.commands.submit(builders.submission()).request.id

    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        # 24 people, 32 attempts: eight people click twice. Every fifth is a reject.
        who = Identity("slack", f"U{i % 24:04d}")
        reject = mix == "with-rejects" and i % 5 == 4
        kind = VoteKind.REJECT if reject else VoteKind.APPROVE
        barrier.wait(timeout=30)
        try:
            res = svc.commands.vote(rid, who, kind, comment=f"attempt {i}")
            out = "decided" if res.decided else "voted"
        except (errors.AlreadyDecided, errors.AlreadyVoted) as exc:
            out = type(exc).__name__
        except BaseException as exc:  # reported below
            with lock:
                unexpected.append(exc)
            return
        with lock:
            outcomes.append(out)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert unexpected == []

    counts = Counter(outcomes)
    assert counts["decided"] == 1, counts
    final = svc.queries.get(rid)
    if mix == "approvals-only":
        # Liveness: with every approval in, the request must not be stuck pending.
        assert final.state is State.APPROVED
    assert final.state in (State.APPROVED, State.REJECTED)
    people = [v.person for v in final.votes]
    assert len(people) == len(set(people)), "a person voted twice"
    with svc.uow() as uow:
        kinds = Counter(r.kind for r in uow.audit.records(rid))
        effects = [i for i in uow.outbox.items(limit=1000) if i.kind == LOG_DECISION]
    assert kinds["decided"] == 1
    assert kinds["voted"] == len(final.votes)
    assert len(effects) == 1
    assert svc.admin.verify_audit()[1] is None
    engine.dispose()


def test_concurrent_submissions_for_one_model_leave_one_pending(migrated_url):
    engine = (
        make_engine(migrated_url, pool_size=12, max_overflow=0)
        if not migrated_url.startswith("sqlite")
        else make_engine(migrated_url)
    )
    svc = build_services(
        SqlUnitOfWorkFactory(engine), channels=("console",), identities=identity_kinds()
    )
    svc.admin.apply(parse_config(crowd_config()))
    n = 8
    barrier = threading.Barrier(n)
    unexpected: list[BaseException] = []

    def submit(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            svc.commands.submit(
                builders.submission(model_version=str(i), staging_run_id=f"run-{i}")
            )
        except BaseException as exc:  # reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert unexpected == []
    from bot.ports.store import RequestFilter

    states = Counter(
        r.state.value for r in svc.queries.search(RequestFilter(model="iris-classifier"))
    )
    assert states == {"pending": 1, "superseded": n - 1}
    engine.dispose()
