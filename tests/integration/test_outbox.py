"""The outbox dispatcher on the fakes and on both databases: at-least-once delivery
with idempotent handlers, backoff, dead letters reported to the channels, leases."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from bot.domain.effects import CHAT_NOTICE, LAUNCH_PROMOTION, LOG_DECISION
from bot.domain.model import VoteKind
from bot.domain.outbox import DeliveryOutcome, OutboxItem
from bot.ports.effects import PermanentEffectError
from bot.service import Services
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from bot.service.views import request_to_dict
from tests import builders


class Recorder:
    """A handler that records what it was asked to deliver and can be told to fail."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail_with: Exception | None = None

    async def deliver(self, item: OutboxItem, request) -> str | None:
        self.seen.append(item.key)
        if self.fail_with is not None:
            raise self.fail_with
        return "ok"


@pytest.fixture
def svc(service: Services) -> Services:
    service.admin.apply(builders.directory())
    return service


def dispatcher(svc, handlers, **retry) -> OutboxDispatcher:
    return OutboxDispatcher(
        svc.uow,
        handlers,
        clock=svc.clock,
        retry=RetryPolicy(**{"max_attempts": 3, "base_seconds": 10, "cap_seconds": 60, **retry}),
        jitter=lambda: 0.5,
    )


def states(svc) -> Counter:
    with svc.uow() as uow:
        return Counter(i.state for i in uow.outbox.items(limit=1000))


def approve(svc) -> str:
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
    svc.commands.vote(rid, Identity("cli", "carol"), VoteKind.APPROVE)
    return rid


def test_everything_due_is_delivered_once(svc):
    rec = Recorder()
    d = dispatcher(svc, {"*": rec})
    approve(svc)
    report = asyncio.run(d.deliver_due())
    assert report.count == len(rec.seen) > 0
    assert len(set(rec.seen)) == len(rec.seen)
    assert asyncio.run(d.deliver_due()).count == 0, "nothing is delivered twice"
    assert set(states(svc)) == {"delivered"}
    with svc.uow() as uow:
        kinds = [r.kind for r in uow.audit.records()]
    assert kinds.count("effect_delivered") == 2  # log_decision, launch_promotion


def test_retry_with_backoff_then_dead_letter_reported_to_the_channel(svc, clock):
    rec = Recorder()
    rec.fail_with = ConnectionError("mlflow unreachable")
    d = dispatcher(svc, {"*": Recorder(), LOG_DECISION: rec})
    rid = approve(svc)
    asyncio.run(d.deliver_due())
    assert rec.seen == [f"{rid}:log_decision"]
    # Not due again before the backoff (10 s for the first retry, jitter fixed).
    clock.advance(seconds=9)
    asyncio.run(d.deliver_due())
    assert len(rec.seen) == 1
    clock.advance(seconds=2)
    asyncio.run(d.deliver_due())
    assert len(rec.seen) == 2
    clock.advance(seconds=21)  # second retry after 20 s
    asyncio.run(d.deliver_due())
    assert len(rec.seen) == 3
    with svc.uow() as uow:
        item = next(i for i in uow.outbox.items(limit=100) if i.kind == LOG_DECISION)
        notices = [i for i in uow.outbox.items(limit=100) if i.kind == CHAT_NOTICE]
        events = [r.kind for r in uow.audit.records(rid)]
    assert item.state == "dead" and "mlflow unreachable" in (item.last_error or "")
    assert [n.payload["channel"] for n in notices] == ["console"]
    assert "dead-lettered" in notices[0].payload["text"]
    assert "effect_failed" in events

    # An operator fixes MLflow and retries: delivered, once.
    rec.fail_with = None
    assert d.retry_item(item.id, actor="cli")
    asyncio.run(d.deliver_due())
    assert len(rec.seen) == 4
    assert states(svc)["dead"] == 0
    assert not d.retry_item(item.id, actor="cli"), "only dead or pending items can be retried"


def test_permanent_error_dead_letters_at_once(svc):
    rec = Recorder()
    rec.fail_with = PermanentEffectError("pipeline 'promotion' not found")
    d = dispatcher(svc, {"*": Recorder(), LOG_DECISION: rec})
    approve(svc)
    asyncio.run(d.deliver_due())
    with svc.uow() as uow:
        item = next(i for i in uow.outbox.items() if i.kind == LOG_DECISION)
    assert item.state == "dead" and item.attempts == 1


def test_no_handler_here_waits_it_is_neither_a_crash_nor_delivered(svc):
    d = dispatcher(svc, {})
    svc.commands.submit(builders.submission())
    report = asyncio.run(d.deliver_due())
    assert len(report.waiting) == 1 and not report.delivered and not report.dead
    assert states(svc) == Counter({"waiting": 1})


def test_an_unconfigured_system_waits_visibly_then_goes_out_once_configured(svc):
    reason = (
        "promotion launcher not configured (APPROVAL_BOT_LAUNCHER=local needs MLFLOW_TRACKING_URI)"
    )
    others = Recorder()
    d = dispatcher(svc, {"chat": others, "mlflow": others})
    d.unavailable = {LAUNCH_PROMOTION: reason}
    rid = approve(svc)
    report = asyncio.run(d.deliver_due())
    assert len(report.waiting) == 1
    assert asyncio.run(d.deliver_due()).count == 0, "a waiting row is not tried again"
    assert d.release_waiting() == 0, "still nothing here to deliver it"

    request = svc.queries.get(rid)
    (launch,) = [i for i in svc.queries.effects([request])[rid] if i.kind == LAUNCH_PROMOTION]
    assert launch.state == "waiting" and launch.attempts == 0
    shown = request_to_dict(request, effects=svc.queries.effects([request])[rid])
    assert {"kind": LAUNCH_PROMOTION, "detail": f"waiting: {reason}"}.items() <= next(
        e for e in shown["effects"] if e["kind"] == LAUNCH_PROMOTION
    ).items()

    # The bot restarts with a launcher: the sweep releases the row and it goes out, once.
    launcher = Recorder()
    configured = dispatcher(svc, {"*": others, LAUNCH_PROMOTION: launcher})
    assert configured.release_waiting() == 1
    asyncio.run(configured.deliver_due())
    asyncio.run(configured.deliver_due())
    assert launcher.seen == [f"{rid}:launch_promotion"]
    assert states(svc)["waiting"] == 0


def test_a_crashed_deliverers_claim_runs_out_and_is_retaken(svc, clock):
    svc.commands.submit(builders.submission())
    with svc.uow() as uow:
        claimed = uow.outbox.claim(
            clock.now(),
            limit=10,
            token="dead-process",
            lease_until=clock.now() + timedelta(seconds=60),
        )
        uow.commit()
    assert len(claimed) == 1
    rec = Recorder()
    d = dispatcher(svc, {"*": rec})
    asyncio.run(d.deliver_due())
    assert rec.seen == [], "a live claim is respected"
    clock.advance(seconds=61)
    asyncio.run(d.deliver_due())
    assert rec.seen == [claimed[0].key]
    # The crashed process comes back and reports its stale claim: ignored.
    with svc.uow() as uow:
        assert not uow.outbox.finish(
            DeliveryOutcome.delivered(claimed[0]), "dead-process", at=clock.now()
        )


def test_two_dispatchers_never_deliver_the_same_row(svc):
    for v in range(6):
        svc.commands.submit(builders.submission(model_version=str(v), staging_run_id=f"s{v}"))
    rec = Recorder()
    d1, d2 = dispatcher(svc, {"*": rec}), dispatcher(svc, {"*": rec})

    async def both() -> None:
        await asyncio.gather(d1.deliver_due(), d2.deliver_due())

    total = sum(states(svc).values())
    assert total > 6
    asyncio.run(both())
    assert len(rec.seen) == len(set(rec.seen)) == total


def test_a_launch_that_fails_for_good_shows_on_the_request_in_every_channel(svc):
    from bot.domain.effects import CHAT_UPDATE
    from bot.service.views import launch_problem

    rec = Recorder()
    rec.fail_with = PermanentEffectError("pipeline 'promotion' not found")
    d = dispatcher(svc, {"*": Recorder(), LAUNCH_PROMOTION: rec})
    rid = approve(svc)
    asyncio.run(d.deliver_due())
    with svc.uow() as uow:
        items = uow.outbox.items(limit=100)
    launch = next(i for i in items if i.kind == LAUNCH_PROMOTION)
    assert launch.state == "dead"
    # The request's messages re-render after the death, in each of its channels...
    rerender = [i for i in items if i.kind == CHAT_UPDATE and f":dead:{launch.id}:" in i.key]
    assert [i.payload["channel"] for i in rerender] == list(svc.channels)
    # ...and what they show is the same sentence everywhere.
    problem = launch_problem(svc.queries.effects([svc.queries.get(rid)])[rid])
    assert problem == (
        "promotion could not start: pipeline 'promotion' not found — "
        f"retry with `approval-bot outbox retry {launch.id}`"
    )
    # Retried and dead again: the messages re-render again.
    assert d.retry_item(launch.id, actor="cli")
    asyncio.run(d.deliver_due())
    with svc.uow() as uow:
        again = [
            i
            for i in uow.outbox.items(limit=100)
            if i.kind == CHAT_UPDATE and f":dead:{launch.id}:" in i.key
        ]
    assert len(again) == 2 * len(svc.channels)


class Gate:
    """Handlers that wait for each other: MLflow's run waits until the launch has gone out,
    and the messages record the order they were delivered in."""

    def __init__(self) -> None:
        self.launched: asyncio.Event | None = None
        self.seen: list[str] = []

    async def log(self, item: OutboxItem, request) -> str:
        assert self.launched is not None
        await asyncio.wait_for(self.launched.wait(), timeout=5)
        self.seen.append(item.key)
        return "ok"

    async def launch(self, item: OutboxItem, request) -> str:
        assert self.launched is not None
        self.launched.set()
        self.seen.append(item.key)
        return "ok"

    async def chat(self, item: OutboxItem, request) -> str:
        await asyncio.sleep(0)  # let any other delivery of this request run in between
        self.seen.append(item.key)
        return "ok"


def test_a_launch_does_not_wait_for_the_decisions_mlflow_run_and_messages_keep_order(svc):
    from types import SimpleNamespace

    gate = Gate()
    handlers = {
        LOG_DECISION: SimpleNamespace(deliver=gate.log),
        LAUNCH_PROMOTION: SimpleNamespace(deliver=gate.launch),
        "*": SimpleNamespace(deliver=gate.chat),
    }
    d = dispatcher(svc, handlers)
    rid = approve(svc)
    with svc.uow() as uow:
        due = [i for i in uow.outbox.items(limit=100) if i.state == "pending"]

    async def run() -> None:
        gate.launched = asyncio.Event()
        await d.deliver_due()

    asyncio.run(run())
    assert states(svc) == Counter({"delivered": len(due)}), "the MLflow run did not time out"
    assert gate.seen.index(f"{rid}:launch_promotion") < gate.seen.index(f"{rid}:log_decision")
    messages = [i.key for i in sorted(due, key=lambda i: i.id) if i.kind.startswith("chat")]
    assert len(messages) > 1
    assert [k for k in gate.seen if k in messages] == messages, "one channel's messages in order"


def test_launches_go_out_while_every_mlflow_run_is_still_waiting(svc):
    """Lanes: with more decisions than a batch holds, the MLflow runs wait until every
    launch is out. Delivered in batches of mixed kinds, this would never end."""
    from types import SimpleNamespace

    launched: list[str] = []
    decisions = 5
    everything_launched: asyncio.Event | None = None

    async def log(item: OutboxItem, request) -> str:
        assert everything_launched is not None
        await asyncio.wait_for(everything_launched.wait(), timeout=5)
        return "ok"

    async def launch(item: OutboxItem, request) -> str:
        assert everything_launched is not None
        launched.append(item.key)
        if len(launched) == decisions:
            everything_launched.set()
        return "ok"

    handlers = {
        LOG_DECISION: SimpleNamespace(deliver=log),
        LAUNCH_PROMOTION: SimpleNamespace(deliver=launch),
        "*": Recorder(),
    }
    d = dispatcher(svc, handlers)
    d.batch, d.parallel = 2, 2
    for v in range(decisions):
        rid = svc.commands.submit(
            builders.submission(model_name=f"m{v}", staging_run_id=f"s{v}")
        ).request.id
        svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
        svc.commands.vote(rid, Identity("cli", "carol"), VoteKind.APPROVE)

    async def run() -> None:
        nonlocal everything_launched
        everything_launched = asyncio.Event()
        await d.deliver_due()

    asyncio.run(run())
    assert len(launched) == decisions
    assert set(states(svc)) == {"delivered"}, "no MLflow run timed out waiting"


def test_a_lane_that_fails_does_not_abandon_the_others_midway(svc):
    """The database fails one lane's claim: the error comes out of deliver_due, but only
    after the other lanes finished what they had taken (none left running, none cut off)."""
    from contextlib import contextmanager

    @contextmanager
    def failing_for_mlflow(**kw):
        with svc.uow(**kw) as uow:
            real = uow.outbox.claim

            def claim(now, **args):
                if LOG_DECISION in (args.get("kinds") or ()):
                    raise ConnectionError("the database went away")
                return real(now, **args)

            uow.outbox.claim = claim
            yield uow

    rec = Recorder()
    d = dispatcher(svc, {"*": rec})
    d.uow = failing_for_mlflow
    rid = approve(svc)
    with pytest.raises(ConnectionError, match="went away"):
        asyncio.run(d.deliver_due())
    with svc.uow() as uow:
        left = {i.kind: i.state for i in uow.outbox.items(limit=100)}
    assert left.pop(LOG_DECISION) == "pending"
    assert set(left.values()) == {"delivered"}, left
    assert f"{rid}:launch_promotion" in rec.seen


class _Hanging:
    """A chat transport whose post never answers; ``find_post`` counts the takeovers."""

    def __init__(self) -> None:
        self.looked = 0

    async def post(self, rendered, *, request_id: str):
        await asyncio.Event().wait()

    async def find_post(self, request_id: str):
        self.looked += 1
        return None


def test_a_post_cut_short_by_the_timeout_ends_its_claim_at_once(svc, clock):
    """The outbox's timeout cancels a post on the wire: whether it went out is unknown, so
    the claim is abandoned then (the next delivery looks first), instead of being held
    unrecorded for the whole lease, a minute of 'posting elsewhere' retries for the
    request, before the same takeover."""
    from bot.service.chat.publisher import Publisher
    from bot.service.chat.rich import Markup

    rid = svc.commands.submit(builders.submission()).request.id
    hanging = _Hanging()
    stage = Publisher("console", Markup(), hanging, svc.uow)  # type: ignore[arg-type]
    d = dispatcher(svc, {"chat:console": stage, "*": Recorder()}, timeout_seconds=0.05)
    asyncio.run(d.deliver_due())
    with svc.uow() as uow:
        claim = uow.chat.claim(
            rid, "console", token="next", now=clock.now(), lease_until=clock.now()
        )
        uow.commit()
    assert claim.token == "next" and claim.retaken
