"""The promotion keeps registry and serving together: Ready, never Ready, failed, forbidden.

A real MLflow server holds the aliases; the InferenceService lives in a fake Kubernetes API on
127.0.0.1 driven through the real ``kubernetes`` client, whose KServe controller goes Ready,
never does, or reports a failed model load (tests/pipelines/fakes.py).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.errors import DeployError, DeployPermissionError, PromotionRolledBackError
from pipelines.steps import approvals, promotion
from tests.pipelines.conftest import Stack
from tests.pipelines.fakes import FAILS, NEVER_READY, READY

NAMESPACE = "models"
_names = itertools.count(1)


class Case:
    """One model with v1 @champion and v2 @challenger, and its own InferenceService."""

    def __init__(self, stack: Stack, *, champion: bool = True) -> None:
        n = next(_names)
        self.stack = stack
        self.model = f"rollback-model-{n}"
        self.service = f"rollback-serving-{n}"
        client = stack.client()
        client.create_registered_model(self.model)
        for _ in (1, 2):  # versions of a run's artifact: no model needs to exist for this
            run = client.create_run("0")
            client.create_model_version(
                self.model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
            )
        if champion:
            client.set_registered_model_alias(self.model, "champion", "1")
        client.set_registered_model_alias(self.model, "challenger", "2")
        stack.kube.add_inference_service(NAMESPACE, self.service)
        self.before = copy.deepcopy(stack.kube.objects[(NAMESPACE, self.service)])

    def aliases(self) -> dict[str, str]:
        return dict(self.stack.client().get_registered_model(self.model).aliases)

    def served(self) -> dict[str, Any]:
        return dict(self.stack.kube.objects[(NAMESPACE, self.service)])

    def promote(self, timeout: float = 30.0) -> promotion.Promoted:
        return promotion.promote(
            self.model,
            "2",
            inference_service=self.service,
            namespace=NAMESPACE,
            ready_timeout_seconds=timeout,
            poll_seconds=0.01,
        )


@pytest.fixture
def stack(local_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for key, value in local_stack.env.items():
        monkeypatch.setenv(key, value)
    kube = local_stack.kube
    yield local_stack
    kube.rollout, kube.react_after, kube.forbid_patch = READY, 1, False


def test_ready_promotion_moves_aliases_and_serves_the_new_version(stack: Stack) -> None:
    case = Case(stack)
    stack.kube.react_after = 3  # two polls see the old revision's Ready: they must not count

    result = case.promote()

    assert result.champion_version == "2"
    assert result.archived_version == "1"
    download_uri = stack.client().get_model_version_download_uri(case.model, "2")
    assert result.storage_uri == promotion.storage_uri(download_uri)
    assert case.aliases() == {"champion": "2", "archived": "1"}
    model = case.served()["spec"]["predictor"]["model"]
    assert model["storageUri"] == result.storage_uri
    assert case.served()["status"]["observedGeneration"] == 2  # the controller acted first
    gets_after_patch = [
        r for r in stack.kube.requests[stack.kube.requests.index(stack.kube.patches[-1]) :]
        if r.method == "GET" and r.path.endswith(case.service)
    ]  # fmt: skip
    assert len(gets_after_patch) == 3


def test_never_ready_times_out_and_restores_aliases_and_storage_uri(stack: Stack) -> None:
    case = Case(stack)
    stack.kube.rollout = NEVER_READY  # the old revision stays Ready: that is not our Ready

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote(timeout=0.5)

    message = str(failed.value)
    assert message.startswith(f"promotion of {case.model} v2 rolled back: ")
    assert (
        f"InferenceService {NAMESPACE}/{case.service} did not become Ready within 0.5s" in message
    )
    assert "@champion -> v1" in message and "@challenger -> v2" in message
    assert "back on s3://old" in message
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert case.served()["spec"] == case.before["spec"]


def test_failed_model_load_is_the_reason_and_everything_is_restored(stack: Stack) -> None:
    case = Case(stack)
    stack.kube.rollout = FAILS

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote()

    message = str(failed.value)
    assert (
        f"InferenceService {NAMESPACE}/{case.service} failed: BlockedByFailedLoad "
        "(ModelLoadFailed: MLServer could not load the model: No module named 'sklearn')"
    ) in message
    assert "\n" not in message  # one line: the bot shows it as it is
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert case.served()["spec"] == case.before["spec"]
    restore = stack.kube.patches[-1].json()
    assert restore == {
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn", "version": None},
                                         "runtime": None, "storageUri": "s3://old"}}}
    }  # fmt: skip


def test_first_promotion_that_fails_leaves_no_champion(stack: Stack) -> None:
    case = Case(stack, champion=False)
    stack.kube.rollout = FAILS

    with pytest.raises(PromotionRolledBackError, match="@champion removed"):
        case.promote()

    assert case.aliases() == {"challenger": "2"}


def test_a_refused_patch_restores_the_aliases_it_already_moved(stack: Stack) -> None:
    case = Case(stack)
    stack.kube.forbid_patch = True

    with pytest.raises(PromotionRolledBackError) as failed:
        case.promote()

    assert isinstance(failed.value.__cause__, DeployPermissionError)
    assert "lacks the 'patch' permission on 'inferenceservices'" in str(failed.value)
    assert f"InferenceService {NAMESPACE}/{case.service} unchanged" in str(failed.value)
    assert case.aliases() == {"champion": "1", "challenger": "2"}


def test_a_missing_inference_service_fails_before_any_alias_moves(stack: Stack) -> None:
    case = Case(stack)

    with pytest.raises(DeployError, match="404 Not Found reading") as failed:
        promotion.promote(
            case.model, "2", inference_service="absent", namespace=NAMESPACE, poll_seconds=0.01
        )

    assert not isinstance(failed.value, PromotionRolledBackError)
    assert case.aliases() == {"champion": "1", "challenger": "2"}


def test_promoting_again_once_ready_changes_nothing(stack: Stack) -> None:
    case = Case(stack)
    case.promote()
    patches_before = len(stack.kube.patches)
    served = case.served()

    again = case.promote()

    assert (again.champion_version, again.archived_version) == ("2", "")
    assert case.aliases() == {"champion": "2", "archived": "1"}
    assert case.served() == served
    assert len(stack.kube.patches) == patches_before + 1  # a no-op merge patch, nothing new


def test_the_pipeline_run_fails_with_the_reason(stack: Stack) -> None:
    case = Case(stack)
    body = {"model_name": case.model, "model_version": "2", "staging_run_id": case.model}
    request_id = str(approvals.BotClient.from_env().submit(body)["id"])
    stack.bot.set_state(request_id, "approved")
    stack.kube.rollout = FAILS

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

    message = str(failed.value)
    assert message.startswith(f"PromotionRolledBackError: promotion of {case.model} v2 rolled back")
    assert "BlockedByFailedLoad (ModelLoadFailed" in message
    assert "Inner task failed" in message  # kfp.local's own words follow
    assert case.aliases() == {"champion": "1", "challenger": "2"}
