"""A canary steered from chat through the real bot: the promotion polls replica A's API
(``GET /api/v1/approvals/{id}/rollout``) and reports its steps there; a rollback asked on the
shared database (what a click on any replica does, bot/service/rollouts.py) reaches the run
within one control poll, and traffic is back on the previous revision in the test cluster.
This measures that time (docs/kserve.md, "Canary")."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.domain.model import VoteKind
from bot.domain.rollout import RolloutAction
from bot.service.identity import Identity
from pipelines.errors import PromotionRolledBackError
from pipelines.steps import canary, promotion
from pipelines.steps.approvals import BotClient
from pipelines.steps.control import BotControl
from pipelines.steps.stepper import CONTROL_POLL_SECONDS
from tests import builders
from tests.pipelines.conftest import Stack
from tests.pipelines.kube_fake import FakeKubernetesApi
from tests.pipelines.test_canary import kube, metrics, stack  # noqa: F401 (fixtures)
from tests.pipelines.test_rollback import NAMESPACE, Case
from tests.support.bot_server import prepare_database, running_bot, service_for
from tests.support.processes import wait_for
from tests.support.prometheus import QueueProxyExporter

TOKEN = "canary-test-token-0123456789"


def revision(case: Case, n: int) -> str:
    return f"{case.service}-predictor-{n:05d}"


def promoting(svc: Any, model: str) -> str:
    """A request for ``model`` v2, approved, its promotion run started."""
    body = builders.submission(model_name=model, model_version="2", requested_by="dave")
    rid = str(svc.commands.submit(body).request.id)
    svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
    svc.commands.vote(rid, Identity("cli", "carol"), VoteKind.APPROVE)
    svc.commands.promotion_started(rid, "run-1")
    return rid


def traffic_back(case: Case, svc: Any, rid: str, back: list[float]) -> Any:
    """An ``on_get`` hook: notes when the fake cluster first reports 100% on the previous
    revision after the rollback was asked."""

    def watch(fake: FakeKubernetesApi, namespace: str, name: str) -> None:
        predictor = fake.objects[(namespace, name)]["status"]["components"]["predictor"]
        on_previous = any(
            t["revisionName"] == revision(case, 1) and t["percent"] == 100
            for t in predictor["traffic"]
        )
        if svc.rollouts.view(rid).control == "rollback" and on_previous and not back:
            back.append(time.monotonic())

    return watch


def promote_in_background(
    case: Case, prometheus: str, control: BotControl, failure: list[BaseException]
) -> threading.Thread:
    def promote() -> None:
        try:
            promotion.promote(
                case.model,
                "2",
                inference_service=case.service,
                namespace=NAMESPACE,
                ready_timeout_seconds=30,
                poll_seconds=0.05,
                canary_plan=canary.parse_plan("10,25,50,100", 3, prometheus),
                control=control,
            )
        except BaseException as error:  # reported by the test
            failure.append(error)

    run = threading.Thread(target=promote)
    run.start()
    return run


def test_a_rollback_asked_in_chat_reaches_the_run_through_the_bots_api(
    stack: Stack,  # noqa: F811
    kube: FakeKubernetesApi,  # noqa: F811
    metrics: tuple[QueueProxyExporter, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    exporter, prometheus = metrics
    case = Case(stack, kube)
    exporter.set(revision(case, 1))
    exporter.set(revision(case, 2))
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)
    env = {"APPROVAL_BOT_API_TOKEN": TOKEN}
    with (
        running_bot(db_url, tmp_path, env=env, name="replica-a") as replica,
        service_for(db_url) as svc,
    ):
        rid = promoting(svc, case.model)
        control = BotControl(BotClient(replica.url, TOKEN), rid)
        back: list[float] = []
        kube.on_get = traffic_back(case, svc, rid, back)
        failure: list[BaseException] = []
        run = promote_in_background(case, prometheus, control, failure)
        wait_for(
            lambda: svc.rollouts.view(rid).progress.get("step") == 25
            and svc.rollouts.view(rid).progress.get("phase") == "dwelling",
            timeout=90,
            description="the run reporting its 25% step to the bot",
        )
        shown = svc.rollouts.view(rid).progress
        assert shown["traffic"] == {revision(case, 2): 25, revision(case, 1): 75}
        assert [
            (c["check"], c["passed"])
            for c in svc.queries.get(rid).rollout["progress"].get("analysis", [])
        ] in ([], [("error_ratio", True), ("p99_latency_ms", True)])

        clicked = time.monotonic()
        svc.rollouts.control(rid, Identity("cli", "alice"), RolloutAction.ROLLBACK)
        run.join(timeout=60)
        assert not run.is_alive()
        [error] = failure
        assert isinstance(error, PromotionRolledBackError), error
        assert "rolled back from chat by alice at 25%" in str(error)
        seconds = back[0] - clicked
        print(f"rollback asked → 100% on the previous revision: {seconds:.2f}s")
        assert seconds < CONTROL_POLL_SECONDS + 3.0
        assert case.aliases() == {"champion": "1", "challenger": "2"}
        final: dict[str, Any] = svc.rollouts.view(rid).progress
        assert final["phase"] == "rolled back" and "traffic back on" in final["restored"]
        with svc.uow() as uow:
            kinds = [r.kind for r in uow.audit.records(rid)]
        assert kinds.count("rollout_controlled") == 1
        assert kinds.count("rollout_progressed") >= 3


@pytest.fixture(autouse=True)
def _bot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPROVAL_BOT_URL", raising=False)
