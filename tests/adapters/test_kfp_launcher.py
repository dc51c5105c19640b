"""The ``kfp`` launcher through the real ``kfp.Client`` against a fake KFP v2beta1 API, driven
by real decisions (service + SQLite) and the real outbox dispatcher."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kfp.handler import LaunchPromotion
from bot.adapters.kfp.remote import KfpLauncher
from bot.adapters.kfp.wiring import make_launcher
from bot.domain.effects import CHAT_NOTICE, CHAT_UPDATE, LAUNCH_PROMOTION
from bot.domain.errors import ConfigError
from bot.domain.model import State
from bot.service import Services
from bot.service.promotions import poll_promotions
from bot.settings import Settings
from pipelines.kfp_client import timed_out
from tests.adapters.conftest import approve, audit_kinds, deliver, dispatcher, outbox
from tests.adapters.kfp_fake import FakeKfpRuns
from tests.fakes import FakeClock
from tests.support.processes import free_port, wait_for

NAME = "iris-classifier"


@pytest.fixture
def kfp_api() -> Iterator[FakeKfpRuns]:
    with FakeKfpRuns() as fake:
        yield fake


def launcher(host: str, **kw) -> KfpLauncher:
    return KfpLauncher(
        host=host, pipeline=["promotion", "iris-promotion"], experiment="iris-promotion", **kw
    )


def launch_handlers(svc: Services, launch: KfpLauncher) -> dict:
    return {LAUNCH_PROMOTION: LaunchPromotion(launch, svc.commands)}


def test_approval_starts_one_run_with_the_four_parameters_and_the_key_as_name(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    launch = launcher(kfp_api.url, token="t0ken")
    d = dispatcher(svc, launch_handlers(svc, launch))
    rid = approve(svc, NAME, "3")

    deliver(d)

    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert item.state == "delivered"
    [create] = kfp_api.created
    body = create.json()
    assert body["display_name"] == item.key == f"{rid}:launch_promotion"
    assert body["runtime_config"]["parameters"] == {
        "model_name": NAME,
        "model_version": "3",
        "data_run_id": "run-data",
        "approval_request_id": rid,
    }
    assert body["pipeline_version_reference"] == {
        "pipeline_id": kfp_api.pipeline_id,
        "pipeline_version_id": kfp_api.version["pipeline_version_id"],
    }
    [experiment] = kfp_api.experiments.values()
    assert body["experiment_id"] == experiment["experiment_id"]
    assert create.headers["authorization"] == "Bearer t0ken"
    request = svc.queries.get(rid)
    assert request.state is State.PROMOTING
    assert request.promotion_run_id == kfp_api.runs[0]["run_id"]
    assert "promotion_started" in audit_kinds(svc, rid)


def test_launches_look_the_target_up_once_and_survive_a_racing_experiment(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    """Another launch made the experiment between our lookup and our create (KFP: 409)."""
    other = launcher(kfp_api.url)
    rid = approve(svc, NAME, "3")
    asyncio.run(other.launch(svc.queries.get(rid), "someone-else"))
    launch = launcher(kfp_api.url)
    kfp_api.hide_experiments = 1
    d = dispatcher(svc, launch_handlers(svc, launch))
    deliver(d)
    assert len(kfp_api.experiments) == 1
    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert item.state == "delivered"
    rid2 = approve(svc, "other-model", "1")
    lookups = len([r for r in kfp_api.requests if "/pipelines" in r.path])
    deliver(d)
    assert svc.queries.get(rid2).state is State.PROMOTING
    assert len([r for r in kfp_api.requests if "/pipelines" in r.path]) == lookups, (
        "the pipeline and its version are looked up once, not per launch"
    )


def test_a_duplicate_delivery_creates_no_second_run(svc: Services, kfp_api: FakeKfpRuns) -> None:
    launch = launcher(kfp_api.url)
    d = dispatcher(svc, launch_handlers(svc, launch))
    rid = approve(svc, NAME, "3")
    [item] = outbox(svc, LAUNCH_PROMOTION)
    # The launch happened but recording it did not (a crash, the database away):
    run_id = asyncio.run(launch.launch(svc.queries.get(rid), item.key))
    assert svc.queries.get(rid).state is State.APPROVED

    deliver(d)  # the outbox delivers the effect (again)

    assert len(kfp_api.created) == 1, "found by display name, not created again"
    assert svc.queries.get(rid).promotion_run_id == run_id
    assert asyncio.run(launch.launch(svc.queries.get(rid), item.key)) == run_id
    assert len(kfp_api.created) == 1


def test_the_service_account_token_file_is_read_per_request(
    svc: Services, kfp_api: FakeKfpRuns, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("sa-token-1")
    launch = launcher(kfp_api.url, token_path=str(token))
    rid = approve(svc, NAME, "3")
    deliver(dispatcher(svc, launch_handlers(svc, launch)))
    token.write_text("sa-token-2")  # kubelet rotated the projected token

    asyncio.run(launch.status(svc.queries.get(rid).promotion_run_id or ""))

    [create] = kfp_api.created
    assert create.headers["authorization"] == "Bearer sa-token-1"
    assert kfp_api.requests[-1].headers["authorization"] == "Bearer sa-token-2"


def test_kfp_down_is_retried_then_dead_lettered_and_reported_in_the_channel(
    svc: Services, clock: FakeClock
) -> None:
    launch = launcher(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    d = dispatcher(svc, launch_handlers(svc, launch), max_attempts=3)
    rid = approve(svc, NAME, "3")

    for wait in (0, 10, 20):
        clock.advance(seconds=wait)
        deliver(d)

    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert (item.state, item.attempts) == ("dead", 3)
    [notice] = outbox(svc, CHAT_NOTICE)
    assert notice.request_id == rid
    assert "kfp.launch_promotion failed after 3 attempt(s)" in notice.payload["text"]
    assert f"outbox retry {item.id}" in notice.payload["text"]
    assert "effect_failed" in audit_kinds(svc, rid)
    # Still approved (retryable once KFP is back), and the channel was told.
    assert svc.queries.get(rid).state is State.APPROVED


@pytest.mark.parametrize(
    ("final", "error", "expected"),
    [
        ("SUCCEEDED", None, State.PROMOTED),
        ("FAILED", "task promote failed", State.PROMOTION_FAILED),
        ("CANCELED", None, State.PROMOTION_FAILED),
    ],
)
def test_run_states_move_the_request_to_promoted_or_promotion_failed(
    svc: Services, kfp_api: FakeKfpRuns, final: str, error: str | None, expected: State
) -> None:
    launch = launcher(kfp_api.url)
    d = dispatcher(svc, launch_handlers(svc, launch))
    rid = approve(svc, NAME, "3")
    deliver(d)
    run_id = svc.queries.get(rid).promotion_run_id or ""
    updates_before = len(outbox(svc, CHAT_UPDATE))

    for state in ("PENDING", "RUNNING", "CANCELING"):
        if state == "CANCELING" and final != "CANCELED":
            continue
        kfp_api.set_state(run_id, state)
        assert asyncio.run(poll_promotions(svc, launch)) == []
        assert svc.queries.get(rid).state is State.PROMOTING

    kfp_api.set_state(run_id, final, error)
    [done] = asyncio.run(poll_promotions(svc, launch))

    assert done.id == rid
    assert svc.queries.get(rid).state is expected
    with svc.uow() as uow:
        [finished] = [r for r in uow.audit.records(rid) if r.kind == "promotion_finished"]
    assert finished.data["state"] == expected.value
    assert final in finished.data["detail"]
    if error:
        assert error in finished.data["detail"]
    assert svc.queries.get(rid).promotion_detail == finished.data["detail"], "shown in chat"
    assert len(outbox(svc, CHAT_UPDATE)) > updates_before, "the result goes to the chats"
    assert asyncio.run(poll_promotions(svc, launch)) == [], "nothing left to follow"


def test_a_run_deleted_on_the_server_ends_the_promotion_as_failed(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    launch = launcher(kfp_api.url)
    rid = approve(svc, NAME, "3")
    deliver(dispatcher(svc, launch_handlers(svc, launch)))
    kfp_api.runs.clear()

    asyncio.run(poll_promotions(svc, launch))

    assert svc.queries.get(rid).state is State.PROMOTION_FAILED


def test_a_missing_pipeline_is_a_permanent_failure(svc: Services) -> None:
    with FakeKfpRuns(pipeline="something-else") as kfp_api:
        d = dispatcher(svc, launch_handlers(svc, launcher(kfp_api.url)))
        rid = approve(svc, NAME, "3")

        deliver(d)

        [item] = outbox(svc, LAUNCH_PROMOTION)
        assert (item.state, item.attempts) == ("dead", 1)
        assert "no KFP pipeline named 'promotion' or 'iris-promotion'" in (item.last_error or "")
        assert outbox(svc, CHAT_NOTICE)
        assert not kfp_api.created
        assert svc.queries.get(rid).state is State.APPROVED


# -- the promotion target, request overrides ---------------------------------------------


def configured(kfp_api: FakeKfpRuns, **settings: Any) -> KfpLauncher:
    """The launcher as the bot wires it from its settings."""
    values = {
        "launcher": "kfp",
        "kfp_host": kfp_api.url,
        "promotion_namespace": "models",
        "promotion_inference_service": "iris-prod",
        "promotion_storage_uri_prefix": "s3://models-bucket/mlflow",
        **settings,
    }
    made = make_launcher(Settings(**values))
    assert isinstance(made, KfpLauncher)
    return made


def test_the_configured_promotion_target_arrives_as_the_runs_parameters(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    rid = approve(svc, NAME, "3")

    deliver(dispatcher(svc, launch_handlers(svc, configured(kfp_api))))

    [run] = kfp_api.runs  # KFP checked them against the pipeline's inputs (kfp_fake.py)
    assert run["runtime_config"]["parameters"] == {
        "model_name": NAME,
        "model_version": "3",
        "data_run_id": "run-data",
        "approval_request_id": rid,
        "namespace": "models",
        "inference_service": "iris-prod",
        "storage_uri_prefix": "s3://models-bucket/mlflow",
    }


def test_a_request_may_override_only_what_the_configuration_allows(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    elsewhere = {"parameters": {"namespace": "elsewhere", "ready_timeout_seconds": 900}}
    refused = approve(svc, NAME, "3", promotion=elsewhere)
    d = dispatcher(svc, launch_handlers(svc, configured(kfp_api)))
    deliver(d)

    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert (item.state, item.attempts) == ("dead", 1)
    assert (
        "the request sets promotion parameter(s) namespace, ready_timeout_seconds, which "
        "APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES does not allow (allowed: none)"
    ) in (item.last_error or "")
    assert kfp_api.created == []
    assert svc.queries.get(refused).state is State.APPROVED

    allowed = approve(svc, "other-model", "1", promotion=elsewhere)
    launch = configured(kfp_api, promotion_request_overrides="namespace, ready_timeout_seconds")
    deliver(dispatcher(svc, launch_handlers(svc, launch)))

    assert svc.queries.get(allowed).state is State.PROMOTING
    [run] = kfp_api.runs
    parameters = run["runtime_config"]["parameters"]
    assert (parameters["namespace"], parameters["ready_timeout_seconds"]) == ("elsewhere", 900)
    assert parameters["inference_service"] == "iris-prod"


# -- multi-user KFP, timeouts ------------------------------------------------------------

SA = "system:serviceaccount:approvals:approval-bot"


def test_multi_user_kfp_gets_the_projected_service_account_token(
    svc: Services, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("sa-token-1")
    tokens = {"sa-token-1": SA}
    with FakeKfpRuns(multi_user=True, tokens=tokens, grants={SA: {"team-a"}}) as kfp_api:
        launch = configured(kfp_api, kfp_namespace="team-a", kfp_token_path=str(token))
        rid = approve(svc, NAME, "3")

        deliver(dispatcher(svc, launch_handlers(svc, launch)))

        assert svc.queries.get(rid).state is State.PROMOTING
        [create] = kfp_api.created
        assert create.headers["authorization"] == "Bearer sa-token-1"
        calls = [r for r in kfp_api.requests if not r.path.endswith("/healthz")]
        assert {r.headers.get("authorization") for r in calls} == {"Bearer sa-token-1"}


def test_multi_user_kfp_refuses_a_namespace_the_bot_was_not_granted(
    svc: Services, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("sa-token-1")
    with FakeKfpRuns(multi_user=True, tokens={"sa-token-1": SA}, grants={}) as kfp_api:
        launch = configured(kfp_api, kfp_namespace="team-a", kfp_token_path=str(token))
        approve(svc, NAME, "3")

        deliver(dispatcher(svc, launch_handlers(svc, launch)))

        [item] = outbox(svc, LAUNCH_PROMOTION)
        assert "403" in (item.last_error or "") and "PermissionDenied" in (item.last_error or "")
        assert kfp_api.runs == []


def test_a_create_answered_too_late_is_found_and_not_made_twice(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    """KFP made the run but did not answer within the timeout: the launcher looks it up."""
    launch = configured(kfp_api, kfp_timeout_seconds=0.5)
    kfp_api.stall_creates = ["answer-late"]
    rid = approve(svc, NAME, "3")

    deliver(dispatcher(svc, launch_handlers(svc, launch)))

    [run] = kfp_api.runs
    assert len(kfp_api.created) == 1
    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert item.state == "delivered"
    assert svc.queries.get(rid).promotion_run_id == run["run_id"]


def test_a_create_that_hangs_times_out_and_the_retry_makes_no_second_run(
    svc: Services, kfp_api: FakeKfpRuns, clock: FakeClock
) -> None:
    """KFP does not answer and makes the run only after the launcher gave up: the next
    attempt finds it by name before creating anything."""
    launch = configured(kfp_api, kfp_timeout_seconds=0.5)
    kfp_api.stall_creates = ["commit-late"]
    d = dispatcher(svc, launch_handlers(svc, launch))
    rid = approve(svc, NAME, "3")

    deliver(d)

    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert (item.state, item.attempts) == ("pending", 1)
    assert "KFP did not answer creating run" in (item.last_error or "")
    assert svc.queries.get(rid).state is State.APPROVED
    kfp_api.release.set()  # KFP finally makes the run
    wait_for(lambda: len(kfp_api.runs) == 1, timeout=30, description="the late run")
    clock.advance(seconds=10)

    deliver(d)

    assert len(kfp_api.created) == 1, "found by name: no second create"
    assert svc.queries.get(rid).promotion_run_id == kfp_api.runs[0]["run_id"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("namespace", [None, "team-a"])  # None: kfp.Client asks /healthz first
def test_a_kfp_server_that_never_answers_times_out(svc: Services, namespace: str | None) -> None:
    with socket.socket() as silent:  # connections are accepted by the kernel, never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host = f"http://127.0.0.1:{silent.getsockname()[1]}"
        launch = launcher(host, namespace=namespace, timeout_seconds=0.5)
        rid = approve(svc, NAME, "3")

        with pytest.raises(Exception) as failed:
            asyncio.run(launch.launch(svc.queries.get(rid), f"{rid}:launch_promotion"))

    assert timed_out(failed.value), failed.value


def test_a_kfp_timeout_that_does_not_fit_in_the_outbox_lease_is_refused(
    kfp_api: FakeKfpRuns,
) -> None:
    with pytest.raises(ConfigError, match=r"APPROVAL_BOT_KFP_TIMEOUT_SECONDS=10: a launch makes"):
        configured(kfp_api, kfp_timeout_seconds=10)
    with pytest.raises(ConfigError, match="APPROVAL_BOT_LAUNCHER=kfp needs APPROVAL_BOT_PROMOTION"):
        configured(kfp_api, promotion_namespace=None)


def test_deploy_the_champion_is_a_run_of_the_divergences_service_without_an_approval(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    """docs/watch.md: the run's guard reads the divergence; its InferenceService wins over the
    configured target, and a canary configured for promotions does not apply."""
    from bot.adapters.kfp.handler import DeployChampion
    from bot.domain.effects import DEPLOY_CHAMPION
    from bot.service.identity import Identity
    from tests import builders

    svc.admin.apply(builders.directory())
    did = builders.diverge(svc, NAME)
    svc.watch.deploy_champion(did, Identity("cli", "carol"))
    launch = configured(kfp_api, promotion_canary_steps="10,100", prometheus_url="http://p:9090")
    handlers = {DEPLOY_CHAMPION: DeployChampion(launch, svc.watch)}

    deliver(dispatcher(svc, handlers))
    deliver(dispatcher(svc, handlers))  # a second delivery finds the run

    [item] = outbox(svc, DEPLOY_CHAMPION)
    assert item.state == "delivered"
    [run] = kfp_api.runs  # KFP checked them against the pipeline's inputs (kfp_fake.py)
    assert run["display_name"] == item.key
    params = run["runtime_config"]["parameters"]
    assert params["divergence_id"] == did and params["approval_request_id"] == ""
    assert (params["model_name"], params["model_version"]) == (NAME, "2")
    assert (params["namespace"], params["inference_service"]) == ("models", "iris-serving")
    assert params["canary_steps"] == ""
