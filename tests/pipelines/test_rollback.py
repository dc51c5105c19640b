"""The promotion keeps registry and serving together, in both KServe deployment modes.

A real MLflow server holds the aliases; the InferenceService lives in a fake Kubernetes API on
127.0.0.1 driven through the real ``kubernetes`` client, whose KServe controller reports a
rollout the way KServe does (tests/pipelines/kube_fake.py, docs/kserve.md): Serverless with
revisions and traffic, RawDeployment with the predictor Deployment's rollout.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.errors import (
    DeployError,
    DeployPermissionError,
    PromotionRolledBackError,
    PromotionSupersededError,
)
from pipelines.steps import approvals, promotion
from tests.pipelines.conftest import Stack
from tests.pipelines.kube_fake import (
    DEADLINE,
    FAILS,
    INVALID_SPEC,
    NEVER_READY,
    RAW,
    SERVERLESS,
    FakeKubernetesApi,
)
from tests.support.processes import wait_for

NAMESPACE = "models"
_names = itertools.count(1)
MODES = [
    pytest.param((SERVERLESS, "current"), id="serverless"),
    pytest.param((SERVERLESS, "legacy"), id="serverless-kserve-0.14"),
    pytest.param((RAW, "current"), id="raw"),
    pytest.param((RAW, "legacy"), id="raw-kserve-0.14"),
]


class Case:
    """One model with v1 @champion and v2 @challenger (and v3), and its own InferenceService."""

    def __init__(self, stack: Stack, kube: FakeKubernetesApi, *, champion: bool = True) -> None:
        n = next(_names)
        self.stack, self.kube = stack, kube
        self.model = f"rollback-model-{n}"
        self.service = f"rollback-serving-{n}"
        client = stack.client()
        client.create_registered_model(self.model)
        for _ in (1, 2, 3):  # versions of a run's artifact: no model needs to exist for this
            run = client.create_run("0")
            client.create_model_version(
                self.model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
            )
        if champion:
            client.set_registered_model_alias(self.model, "champion", "1")
        client.set_registered_model_alias(self.model, "challenger", "2")
        kube.add_inference_service(NAMESPACE, self.service)
        self.before = copy.deepcopy(kube.objects[(NAMESPACE, self.service)])

    def aliases(self) -> dict[str, str]:
        return dict(self.stack.client().get_registered_model(self.model).aliases)

    def served(self) -> dict[str, Any]:
        return copy.deepcopy(self.kube.objects[(NAMESPACE, self.service)])

    def uri(self, version: str) -> str:
        download = self.stack.client().get_model_version_download_uri(self.model, version)
        return promotion.storage_uri(download)

    def promote(self, version: str = "2", timeout: float = 30.0) -> promotion.Promoted:
        return promotion.promote(
            self.model,
            version,
            inference_service=self.service,
            namespace=NAMESPACE,
            ready_timeout_seconds=timeout,
            poll_seconds=0.01,
        )

    def gets_after_patch(self) -> int:
        requests = self.kube.requests
        first = requests.index(self.kube.patches[0])
        return len([r for r in requests[first:] if r.method == "GET" and self.service in r.path])


@pytest.fixture
def stack(local_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    for key, value in local_stack.env.items():
        monkeypatch.setenv(key, value)
    return local_stack


@pytest.fixture(params=MODES)
def kube(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeKubernetesApi]:
    mode, kserve = request.param
    with FakeKubernetesApi(mode=mode, kserve=kserve) as fake:
        monkeypatch.setenv("KUBERNETES_API_URL", fake.url)
        yield fake


def raw_only(kube: FakeKubernetesApi) -> None:
    if kube.mode != RAW:
        pytest.skip("RawDeployment mode only")


def test_ready_only_after_the_new_revision_or_the_completed_rollout(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)
    kube.react_after = 2  # the stale and the in-between states are each seen more than once

    result = case.promote()

    assert kube.steps_left(NAMESPACE, case.service) == 0, "returned before KServe finished"
    assert (result.champion_version, result.archived_version) == ("2", "1")
    assert result.storage_uri == case.uri("2")
    assert case.aliases() == {"champion": "2", "archived": "1"}
    served = case.served()
    assert served["spec"]["predictor"]["model"]["storageUri"] == result.storage_uri
    predictor = served["status"]["components"]["predictor"]
    if kube.mode == SERVERLESS:
        new = f"{case.service}-predictor-00002"
        assert predictor["latestCreatedRevision"] == predictor["latestReadyRevision"] == new
        assert predictor["traffic"] == [
            {"revisionName": new, "latestRevision": True, "percent": 100}
        ]
    else:
        deployment = kube.deployments[(NAMESPACE, f"{case.service}-predictor")]
        assert deployment["status"]["observedGeneration"] == deployment["metadata"]["generation"]
        assert deployment["status"]["replicas"] == deployment["status"]["updatedReplicas"] == 1
        args = deployment["spec"]["template"]["spec"]["initContainers"][0]["args"]
        assert args[0] == result.storage_uri


def test_never_ready_times_out_and_restores_aliases_and_storage_uri(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)
    kube.rollout = NEVER_READY  # the old revision / ReplicaSet keeps serving: not our Ready

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote(timeout=0.5)

    message = str(failed.value)
    assert message.startswith(f"promotion of {case.model} v2 rolled back: ")
    assert (
        f"InferenceService {NAMESPACE}/{case.service} did not become Ready within 0.5s" in message
    )
    assert "@champion -> v1" in message and "@challenger -> v2" in message
    assert f"InferenceService {NAMESPACE}/{case.service} back on s3://old" in message
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert case.served()["spec"] == case.before["spec"]


def test_failed_model_load_fails_fast_and_everything_is_restored(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)
    kube.rollout = FAILS  # RawDeployment: Ready stays True (the old pod is Available)

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote(timeout=60)

    message = str(failed.value)
    assert (
        f"InferenceService {NAMESPACE}/{case.service} failed: BlockedByFailedLoad "
        "(ModelLoadFailed: MLServer could not load the model: No module named 'sklearn')"
    ) in message
    assert "\n" not in message  # one line: the bot shows it as it is
    assert case.gets_after_patch() <= 8, "failed at once, not at the 60 s timeout"
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert case.served()["spec"] == case.before["spec"]
    restore = kube.patches[-1].json()
    assert restore["spec"] == {
        "predictor": {"model": {"modelFormat": {"name": "sklearn", "version": None},
                                "runtime": None, "storageUri": "s3://old"}}
    }  # fmt: skip
    assert restore["metadata"]["resourceVersion"], "the rollback is conditional on what it read"


def test_invalid_spec_fails_fast_and_rolls_back(stack: Stack, kube: FakeKubernetesApi) -> None:
    case = Case(stack, kube)
    kube.rollout = INVALID_SPEC  # no revision, no Deployment change ever comes; old Ready stays

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote(timeout=60)

    assert (
        "failed: InvalidSpec (NoSupportingRuntime: Specified runtime does not support "
        "specified framework/version)"
    ) in str(failed.value)
    assert case.gets_after_patch() <= 3, "failed at once, not at the 60 s timeout"
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert case.served()["spec"] == case.before["spec"]


def test_progress_deadline_exceeded_fails_fast(stack: Stack, kube: FakeKubernetesApi) -> None:
    raw_only(kube)
    case = Case(stack, kube)
    kube.rollout = DEADLINE  # KServe <= 0.15 still says Ready=True (Available from the old pod)

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote(timeout=60)

    assert (
        f"failed: Deployment {case.service}-predictor ProgressDeadlineExceeded: ReplicaSet "
        f'"{case.service}-predictor-2" has timed out progressing.'
    ) in str(failed.value)
    assert case.gets_after_patch() <= 8
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert case.served()["spec"] == case.before["spec"]


def test_raw_mode_needs_to_read_the_deployment_before_anything_moves(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    raw_only(kube)
    case = Case(stack, kube)
    kube.forbid_deployments = True

    with pytest.raises(DeployPermissionError) as failed:
        case.promote()

    message = str(failed.value)
    assert f"403 Forbidden reading deployments.apps {NAMESPACE}/{case.service}-predictor" in message
    assert "lacks the 'get' permission on 'deployments' (apiGroup apps)" in message
    assert kube.patches == []
    assert case.aliases() == {"champion": "1", "challenger": "2"}


def test_a_newer_promotion_is_never_undone(stack: Stack, kube: FakeKubernetesApi) -> None:
    """v3 is promoted while v2 waits for a rollout that never completes: v2 stops as
    superseded and leaves serving, and the aliases, as v3's promotion made them."""
    case = Case(stack, kube)
    kube.rollout_for[case.uri("2")] = NEVER_READY
    outcome: list[BaseException] = []

    def promote_v2() -> None:
        try:
            case.promote("2", timeout=60)
        except BaseException as error:
            outcome.append(error)

    waiting = threading.Thread(target=promote_v2)
    waiting.start()
    try:
        wait_for(lambda: len(kube.patches) == 1, timeout=60, description="v2's patch")
        case.promote("3")
    finally:
        waiting.join(timeout=60)

    [error] = outcome
    assert isinstance(error, PromotionSupersededError), error
    message = str(error)
    assert message.startswith(f"promotion of {case.model} v2 stopped: ")
    assert f"serves {case.uri('3')} now, not {case.uri('2')}" in message
    assert "Serving left as it is" in message
    assert case.served()["spec"]["predictor"]["model"]["storageUri"] == case.uri("3")
    assert case.aliases()["champion"] == "3", "v1 never comes back"
    assert len(kube.patches) == 2, "v2 wrote nothing after v3's patch"


def test_a_rollback_writes_only_what_the_promotion_changed(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)
    kube.rollout = NEVER_READY

    def scale_while_waiting(fake: FakeKubernetesApi, namespace: str, name: str) -> None:
        if (
            len(fake.patches) == 1
            and "minReplicas" not in fake.objects[(namespace, name)]["spec"]["predictor"]
        ):
            fake.apply(namespace, name, {"spec": {"predictor": {"minReplicas": 3}}})

    kube.on_get = scale_while_waiting  # someone scales the predictor while the promotion waits

    with pytest.raises(PromotionRolledBackError):
        case.promote(timeout=0.3)

    predictor = case.served()["spec"]["predictor"]
    assert predictor["minReplicas"] == 3, "the other change survived the rollback"
    assert predictor["model"] == case.before["spec"]["predictor"]["model"]


def test_a_concurrent_change_wins_over_the_rollback(stack: Stack, kube: FakeKubernetesApi) -> None:
    case = Case(stack, kube)
    kube.rollout = FAILS
    someone = {"spec": {"predictor": {"model": {"storageUri": "s3://someone-else"}}}}
    kube.before_conditional_patch = lambda fake, ns, name: fake.apply(ns, name, someone)

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote()

    assert (
        f"InferenceService {NAMESPACE}/{case.service} left on s3://someone-else, which someone "
        "else set since"
    ) in str(failed.value)
    assert case.served()["spec"]["predictor"]["model"]["storageUri"] == "s3://someone-else"
    assert case.aliases() == {"champion": "1", "challenger": "2"}


def test_a_rollback_reads_again_after_a_status_update_and_restores(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)
    kube.rollout = FAILS
    kube.before_conditional_patch = lambda fake, ns, name: fake.touch_status(ns, name)

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote()

    assert f"InferenceService {NAMESPACE}/{case.service} back on s3://old" in str(failed.value)
    conditional = [p for p in kube.patches if "metadata" in p.json()]
    assert len(conditional) == 2, "409 on the first, read again, then restored"
    assert case.served()["spec"] == case.before["spec"]


def test_first_promotion_that_fails_leaves_no_champion(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube, champion=False)
    kube.rollout = FAILS

    with pytest.raises(PromotionRolledBackError, match="@champion removed"):
        case.promote()

    assert case.aliases() == {"challenger": "2"}


def test_a_refused_patch_restores_the_aliases_it_already_moved(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)
    kube.forbid_patch = True

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote()

    assert isinstance(failed.value.__cause__, DeployPermissionError)
    assert "lacks the 'patch' permission on 'inferenceservices'" in str(failed.value)
    assert f"InferenceService {NAMESPACE}/{case.service} unchanged" in str(failed.value)
    assert case.aliases() == {"champion": "1", "challenger": "2"}


def test_a_missing_inference_service_fails_before_any_alias_moves(
    stack: Stack, kube: FakeKubernetesApi
) -> None:
    case = Case(stack, kube)

    with pytest.raises(DeployError, match="404 Not Found reading") as failed:
        promotion.promote(
            case.model, "2", inference_service="absent", namespace=NAMESPACE, poll_seconds=0.01
        )

    assert not isinstance(failed.value, PromotionRolledBackError)
    assert case.aliases() == {"champion": "1", "challenger": "2"}


def test_promoting_again_once_ready_changes_nothing(stack: Stack, kube: FakeKubernetesApi) -> None:
    case = Case(stack, kube)
    case.promote()
    patches_before = len(kube.patches)
    served = case.served()

    again = case.promote()

    assert (again.champion_version, again.archived_version) == ("2", "")
    assert case.aliases() == {"champion": "2", "archived": "1"}
    assert case.served()["spec"] == served["spec"]
    assert len(kube.patches) == patches_before + 1  # a no-op merge patch, nothing new


def test_the_pipeline_run_fails_with_the_reason(stack: Stack) -> None:
    case = Case(stack, stack.kube)
    body = {
        "model_name": case.model,
        "model_version": "2",
        "staging_run_id": case.model,
        "requested_by": "ci",
    }
    request_id = str(approvals.BotClient.from_env().submit(body)["id"])
    stack.bot.set_state(request_id, "approved")
    stack.kube.rollout = FAILS
    try:
        with pytest.raises(RuntimeError) as failed:
            stack.run(
                "promotion",
                model_name=case.model,
                model_version="2",
                data_run_id="",
                approval_request_id=request_id,
                namespace=NAMESPACE,
                inference_service=case.service,
            )
    finally:
        stack.kube.rollout = "ready"

    message = str(failed.value)
    assert message.startswith(f"PromotionRolledBackError: promotion of {case.model} v2 rolled back")
    assert "BlockedByFailedLoad (ModelLoadFailed" in message
    assert "Inner task failed" in message  # kfp.local's own words follow
    assert case.aliases() == {"champion": "1", "challenger": "2"}
