"""A canary's rollout as the bot keeps it (bot/domain/rollout.py, bot/service/rollouts.py):
progress from the promotion run, Pause / Resume / Roll back / Promote now from people,
authorized (approver groups; a rollback: the policy's rollback_groups), each an audit event
and a message update, two replicas acting once. On the in-memory fakes, SQLite and
PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.registry import identity_kinds
from bot.domain import errors
from bot.domain.effects import CHAT_UPDATE
from bot.domain.model import State, VoteKind
from bot.domain.rollout import RolloutAction
from bot.service import Services, build_services
from bot.service.identity import Identity
from tests import builders
from tests.builders import parse_config
from tests.fakes import FakeClock

PROGRESS = {
    "phase": "dwelling",
    "step": 25,
    "steps": [10, 25, 50, 100],
    "canary_revision": "iris-predictor-00002",
    "previous_revision": "iris-predictor-00001",
    "traffic": {"iris-predictor-00002": 25, "iris-predictor-00001": 75},
    "ignored": "dropped",
}


def cli(name: str) -> Identity:
    return Identity("cli", name)


def canary_config() -> dict:
    raw = builders.config_dict()
    raw["people"]["erin"] = {"email": "erin@example.com"}
    raw["groups"]["oncall"] = ["erin"]
    raw["policies"][0]["rollback_groups"] = ["ml-leads", "oncall"]
    return raw


def promoting(svc: Services) -> str:
    svc.admin.apply(parse_config(canary_config()))
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE)
    svc.commands.vote(rid, cli("carol"), VoteKind.APPROVE)
    svc.commands.promotion_started(rid, "run-1")
    return rid


def kinds(svc: Services, rid: str) -> list[str]:
    with svc.uow() as uow:
        return [r.kind for r in uow.audit.records(rid)]


def updates(svc: Services, rid: str) -> int:
    with svc.uow() as uow:
        items = uow.outbox.items(limit=1000)
        return len([i for i in items if i.request_id == rid and i.kind == CHAT_UPDATE])


def test_progress_is_kept_shown_and_audited(service: Services) -> None:
    rid = promoting(service)
    shown = updates(service, rid)

    view = service.rollouts.report(rid, PROGRESS)

    assert (view.control, view.state) == ("run", "promoting")
    assert view.progress["traffic"] == PROGRESS["traffic"] and "ignored" not in view.progress
    assert kinds(service, rid)[-1] == "rollout_progressed"
    assert updates(service, rid) > shown
    assert service.queries.get(rid).rollout["progress"]["step"] == 25


def test_pause_resume_rollback_each_authorized_and_audited(service: Services) -> None:
    rid = promoting(service)
    service.rollouts.report(rid, PROGRESS)
    control = service.rollouts.control

    with pytest.raises(errors.NotEligible, match="only ml-leads, sre may pause"):
        control(rid, cli("erin"), RolloutAction.PAUSE)  # on call: may roll back only
    assert control(rid, cli("alice"), RolloutAction.PAUSE).control == "pause"
    with pytest.raises(errors.Refused, match="paused already"):
        control(rid, cli("bob"), RolloutAction.PAUSE)
    assert control(rid, cli("carol"), RolloutAction.RESUME).control == "run"
    with pytest.raises(errors.NotEligible, match="only ml-leads, oncall may roll back"):
        control(rid, cli("carol"), RolloutAction.ROLLBACK)  # sre approves, may not roll back
    view = control(rid, cli("erin"), RolloutAction.ROLLBACK)
    assert (view.control, view.control_by) == ("rollback", "erin")
    with pytest.raises(errors.Refused, match="being rolled back already"):
        control(rid, cli("alice"), RolloutAction.PROMOTE_NOW)

    with service.uow() as uow:
        controlled = [r for r in uow.audit.records(rid) if r.kind == "rollout_controlled"]
    assert [(r.actor, r.data["action"]) for r in controlled] == [
        ("alice", "pause"),
        ("carol", "resume"),
        ("erin", "rollback"),
    ]


def test_no_control_without_a_running_canary(service: Services) -> None:
    rid = promoting(service)
    with pytest.raises(errors.Refused, match="no canary rollout running"):
        service.rollouts.control(rid, cli("alice"), RolloutAction.PAUSE)
    service.rollouts.report(rid, {**PROGRESS, "phase": "promoted", "step": 100})
    with pytest.raises(errors.Refused, match="is promoted"):
        service.rollouts.control(rid, cli("alice"), RolloutAction.ROLLBACK)
    service.commands.promotion_finished(rid, succeeded=True, detail="done")
    assert service.queries.get(rid).state is State.PROMOTED
    with pytest.raises(errors.Refused, match="not promoting"):
        service.rollouts.report(rid, PROGRESS)


def test_two_replicas_roll_back_once(migrated_url: str) -> None:
    clock = FakeClock()
    replicas = [
        build_services(
            SqlUnitOfWorkFactory(make_engine(migrated_url)),
            clock=clock,
            channels=("console",),
            identities=identity_kinds(),
        )
        for _ in range(2)
    ]
    rid = promoting(replicas[0])
    replicas[0].rollouts.report(rid, PROGRESS)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def click(svc: Services, who: str) -> None:
        barrier.wait(timeout=30)
        try:
            svc.rollouts.control(rid, cli(who), RolloutAction.ROLLBACK)
            result = "ok"
        except errors.Refused as exc:
            result = f"refused: {exc}"
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=click, args=(svc, who))
        for svc in replicas
        for who in ("alice", "bob")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("ok") == 1, outcomes
    assert kinds(replicas[1], rid).count("rollout_controlled") == 1
