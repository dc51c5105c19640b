"""The ``local`` launcher runs the real promotion pipeline (pipelines/, kfp.local) against a
real MLflow server; its approval guard asks a stand-in for the bot's API that serves the
real request view from the real service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.kfp.handler import LaunchPromotion
from bot.adapters.kfp.local import LocalLauncher
from bot.adapters.kfp.wiring import make_launcher
from bot.domain import errors
from bot.domain.effects import LAUNCH_PROMOTION
from bot.domain.model import State
from bot.service import Services
from bot.service.promotions import poll_promotions
from bot.service.views import request_to_dict
from bot.settings import Settings
from tests.adapters.conftest import (
    add_version,
    approve,
    deliver,
    dispatcher,
    model_name,
    register_challenger,
)
from tests.support.http_fake import FakeHttpServer, Recorded
from tests.support.mlflow_server import MlflowServer

TOKEN = "pipeline-token"
RUN_TIMEOUT = 180.0


@pytest.fixture
def bot_api(svc: Services) -> Iterator[FakeHttpServer]:
    """``GET /api/v1/approvals/{id}`` as the bot answers it (bearer token, request view)."""

    def get(request: Recorded, rid: str) -> tuple[int, object]:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"detail": "missing or invalid token"}
        try:
            found, policy = svc.queries.get_with_policy(rid)
        except errors.UnknownRequest:
            return 404, {"detail": f"approval request {rid} not found"}
        newer = svc.queries.newer_approval(found)
        return 200, request_to_dict(found, policy, newer_approval=newer)

    with FakeHttpServer() as fake:
        fake.route("GET", r"/api/v1/approvals/(?P<rid>[^/]+)", get)
        yield fake


def local_launcher(root: Path, mlflow: MlflowServer, bot_api: FakeHttpServer) -> LocalLauncher:
    """The launcher as the bot wires it from its settings (with a promotion target)."""
    settings = Settings(
        launcher="local",
        mlflow_tracking_uri=mlflow.url,
        approval_bot_url=bot_api.url,
        api_token=TOKEN,
        local_pipeline_root=str(root),
        promotion_namespace="models",
        promotion_inference_service="iris-prod",
    )
    made = make_launcher(settings)
    assert isinstance(made, LocalLauncher)
    return made


def run_to_the_end(
    svc: Services, launcher: LocalLauncher, rid: str
) -> tuple[str, dict[str, object]]:
    deliver(dispatcher(svc, {LAUNCH_PROMOTION: LaunchPromotion(launcher, svc.commands)}))
    request = svc.queries.get(rid)
    assert request.state is State.PROMOTING
    run_id = request.promotion_run_id or ""
    launcher.join(run_id, timeout=RUN_TIMEOUT)
    assert asyncio.run(launcher.status(run_id)).terminal, f"{run_id} still running"
    [done] = asyncio.run(poll_promotions(svc, launcher))
    assert done.id == rid
    record = json.loads((launcher.runs_dir / f"{run_id}.json").read_text())
    return run_id, record


def test_an_approved_request_is_promoted_by_the_real_pipeline(
    svc: Services, mlflow: MlflowServer, bot_api: FakeHttpServer, tmp_path: Path
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name)
    client.set_registered_model_alias(name, "champion", "1")  # replaced below by v2
    challenger = add_version(client, name)
    client.set_registered_model_alias(name, "challenger", challenger)
    launcher = local_launcher(tmp_path / "kfp", mlflow, bot_api)
    rid = approve(svc, name, challenger)

    run_id, record = run_to_the_end(svc, launcher, rid)

    assert svc.queries.get(rid).state is State.PROMOTED, record.get("error")
    assert record["state"] == "SUCCEEDED"
    assert record["params"] == {
        "model_name": name,
        "model_version": challenger,
        "data_run_id": "run-data",
        "approval_request_id": rid,
        "deploy_target": "none",
        "namespace": "models",  # the configured promotion target
        "inference_service": "iris-prod",
        "storage_uri_prefix": "s3://mlflow/artifacts",
    }
    assert dict(client.get_registered_model(name).aliases) == {
        "champion": challenger,
        "archived": "1",
    }
    outputs = record["outputs"]
    assert isinstance(outputs, dict)
    assert outputs["champion_version"] == challenger
    assert outputs["archived_version"] == "1"
    detail = asyncio.run(launcher.status(run_id)).detail
    assert f"archived_version=1, champion_version={challenger}" in detail
    assert "storage_uri" not in detail, "deploy_target=none served nothing: no s3:// URI"
    guard_calls = [r.path for r in bot_api.requests]
    assert guard_calls == [f"/api/v1/approvals/{rid}"], "the guard asked the bot once"
    # Delivered again (at least once): the same run, no second pipeline run.
    request = svc.queries.get(rid)
    assert asyncio.run(launcher.launch(request, f"{rid}:launch_promotion")) == run_id
    assert len(bot_api.requests) == 1


def test_a_failing_pipeline_ends_in_promotion_failed_with_the_reason(
    svc: Services, mlflow: MlflowServer, bot_api: FakeHttpServer, tmp_path: Path
) -> None:
    name = model_name()
    register_challenger(mlflow.url, name)
    launcher = local_launcher(tmp_path / "kfp", mlflow, bot_api)
    rid = approve(svc, name, "7")  # approved, but there is no version 7 to promote

    _run_id, record = run_to_the_end(svc, launcher, rid)

    assert svc.queries.get(rid).state is State.PROMOTION_FAILED
    assert record["state"] == "FAILED"
    with svc.uow() as uow:
        [finished] = [r for r in uow.audit.records(rid) if r.kind == "promotion_finished"]
    assert "FAILED" in finished.data["detail"]
    assert "Inner task failed: 'promote'" in finished.data["detail"]  # after the guard
    assert "ModelNotFoundError: registered model" in finished.data["detail"]  # and why
    assert "\x1b" not in finished.data["detail"], "no terminal colours in chat messages"


def test_a_run_cut_off_by_a_restart_is_reported_as_failed(
    mlflow: MlflowServer, bot_api: FakeHttpServer, tmp_path: Path
) -> None:
    runs = tmp_path / "kfp" / "runs"
    runs.mkdir(parents=True)
    (runs / "local-abc-launch_promotion.json").write_text(
        json.dumps({"run_id": "local-abc-launch_promotion", "state": "RUNNING"})
    )
    launcher = local_launcher(tmp_path / "kfp", mlflow, bot_api)  # a new process

    status = asyncio.run(launcher.status("local-abc-launch_promotion"))

    assert (status.terminal, status.succeeded) == (True, False)
    assert "interrupted" in status.detail


def test_without_an_api_token_the_launch_is_refused_before_anything_runs(
    svc: Services, mlflow: MlflowServer, tmp_path: Path
) -> None:
    launcher = LocalLauncher(
        root=tmp_path / "kfp", env={"MLFLOW_TRACKING_URI": mlflow.url, "APPROVAL_BOT_URL": "x"}
    )
    rid = approve(svc, model_name(), "1")

    deliver(dispatcher(svc, {LAUNCH_PROMOTION: LaunchPromotion(launcher, svc.commands)}))

    assert svc.queries.get(rid).state is State.APPROVED
    with svc.uow() as uow:
        [item] = [i for i in uow.outbox.items() if i.kind == LAUNCH_PROMOTION]
    assert item.state == "dead"
    assert "needs APPROVAL_BOT_API_TOKEN" in (item.last_error or "")
    assert not launcher.runs_dir.exists()
