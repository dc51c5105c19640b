"""The promotion guard (fake bot), the storage URI, and the KServe patch (CRD schema, fake API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pipelines.errors import (
    ApprovalError,
    ConfigurationError,
    DeployError,
    DeployPermissionError,
)
from pipelines.steps import approvals, kube, promotion
from tests.pipelines.fakes import FakeApprovalBot
from tests.pipelines.kube_fake import FakeKubernetesApi
from tests.support.kube_schemas import undeclared_keys

SCHEMA_PATH = (
    Path(__file__).parents[1] / "support" / "schemas" / "kserve" / "inferenceservices.json"
)
URI = "s3://mlflow/artifacts/2/models/m-0123/artifacts"


@pytest.fixture
def fake_bot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApprovalBot]:
    monkeypatch.setattr(approvals, "BACKOFF_SECONDS", 0.0)
    with FakeApprovalBot() as fake:
        for key, value in fake.env.items():
            monkeypatch.setenv(key, value)
        yield fake


@pytest.fixture
def fake_kube(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubernetesApi]:
    with FakeKubernetesApi() as fake:
        fake.add_inference_service("models", "iris-serving")
        monkeypatch.setenv("KUBERNETES_API_URL", fake.url)
        yield fake


def submit(bot: FakeApprovalBot, version: str = "3", data_run_id: str = "run-d") -> str:
    body = {
        "model_name": "iris-classifier",
        "model_version": version,
        "data_run_id": data_run_id,
        "staging_run_id": f"kfp-{version}",
        "requested_by": "ci",
    }
    return str(approvals.BotClient.from_env().submit(body)["id"])


def verify(request_id: str, version: str = "3", data_run_id: str = "run-d") -> str:
    return promotion.verify_approval(
        request_id, model_name="iris-classifier", model_version=version, data_run_id=data_run_id
    )


@pytest.mark.parametrize("state", ["approved", "promoting"])
def test_guard_accepts_an_approved_request_for_this_version(
    fake_bot: FakeApprovalBot, state: str
) -> None:
    request_id = submit(fake_bot)
    fake_bot.set_state(request_id, state)

    assert verify(request_id) == state
    [get] = [r for r in fake_bot.requests if r.method == "GET"]
    assert get.path == f"/api/v1/approvals/{request_id}"
    assert get.headers["authorization"] == f"Bearer {fake_bot.token}"


@pytest.mark.parametrize(
    "state", ["pending", "rejected", "expired", "superseded", "cancelled", "promoted"]
)
def test_guard_refuses_a_request_that_is_not_approved(
    fake_bot: FakeApprovalBot, state: str
) -> None:
    request_id = submit(fake_bot)
    fake_bot.set_state(request_id, state)

    with pytest.raises(ApprovalError, match=f"is '{state}'.*refusing to promote"):
        verify(request_id)


def test_guard_refuses_an_approval_of_another_version(fake_bot: FakeApprovalBot) -> None:
    request_id = submit(fake_bot, version="3")
    fake_bot.set_state(request_id, "approved")

    with pytest.raises(
        ApprovalError, match="approves model_version '3', but this run promotes '4'"
    ):
        verify(request_id, version="4")


def test_guard_refuses_an_approval_of_another_model(fake_bot: FakeApprovalBot) -> None:
    request_id = submit(fake_bot)
    fake_bot.set_state(request_id, "approved", model_name="other-model")

    with pytest.raises(ApprovalError, match="model_name 'other-model'"):
        verify(request_id)


def test_guard_refuses_an_approval_made_for_other_data(fake_bot: FakeApprovalBot) -> None:
    request_id = submit(fake_bot, data_run_id="run-d")
    fake_bot.set_state(request_id, "approved")

    with pytest.raises(ApprovalError, match="data run 'run-d'"):
        verify(request_id, data_run_id="run-other")


def test_guard_refuses_unknown_or_empty_ids(fake_bot: FakeApprovalBot) -> None:
    with pytest.raises(ApprovalError, match="does not exist"):
        verify("nope")
    with pytest.raises(ApprovalError, match="no approval_request_id"):
        verify("")


def test_guard_refuses_an_unknown_deploy_target_before_asking_the_bot(
    fake_bot: FakeApprovalBot,
) -> None:
    with pytest.raises(ConfigurationError, match="deploy_target must be one of"):
        promotion.verify_approval(
            "req0001",
            model_name="iris-classifier",
            model_version="3",
            data_run_id="d",
            deploy_target="kserv",
        )
    assert fake_bot.requests == []


def test_guard_refuses_when_the_bot_rejects_the_token(
    fake_bot: FakeApprovalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = submit(fake_bot)
    fake_bot.set_state(request_id, "approved")
    monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", "wrong")

    with pytest.raises(ApprovalError, match="401"):
        verify(request_id)


@pytest.mark.parametrize(
    ("download_uri", "expected"),
    [
        ("mlflow-artifacts:/2/models/m-0123/artifacts", URI),
        ("mlflow-artifacts://mlflow.mlflow.svc:5000/2/models/m-0123/artifacts", URI),
        ("s3://other-bucket/models/m-1/artifacts", "s3://other-bucket/models/m-1/artifacts"),
        ("/var/mlflow/2/models/m-1/artifacts", "/var/mlflow/2/models/m-1/artifacts"),
    ],
)
def test_storage_uri_converts_only_mlflow_artifacts(download_uri: str, expected: str) -> None:
    assert promotion.storage_uri(download_uri) == expected


def test_storage_uri_prefix_is_configurable() -> None:
    assert (
        promotion.storage_uri("mlflow-artifacts:/1/x", "s3://bucket/root/")
        == "s3://bucket/root/1/x"
    )


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """openAPIV3Schema of InferenceService v1beta1 from the KServe repository (see "source")."""
    return dict(json.loads(SCHEMA_PATH.read_text())["versions"]["v1beta1"])


def validate(instance: Any, schema: dict[str, Any]) -> None:
    # Draft7Validator directly: jsonschema.validate() would first check this 600 kB schema itself.
    jsonschema.Draft7Validator(schema).validate(instance)


def test_patch_is_valid_against_the_kserve_crd_schema(schema: dict[str, Any]) -> None:
    patch = promotion.inference_service_patch(URI)
    patched_object = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris-serving"},
        **patch,
    }

    validate(patched_object, schema)
    assert undeclared_keys(patch, schema) == []  # metadata is a free-form object in the CRD
    assert patch["spec"]["predictor"]["model"] == {
        "modelFormat": {"name": "mlflow", "version": "2"},
        "runtime": "mlserver-mlflow",
        "storageUri": URI,
    }


def test_key_check_catches_a_misspelt_key(schema: dict[str, Any]) -> None:
    patch = promotion.inference_service_patch(URI)
    model = patch["spec"]["predictor"]["model"]
    model["storageURI"] = model.pop("storageUri")

    validate(patch, schema)  # the schema alone accepts it...
    assert undeclared_keys(patch, schema) == [".spec.predictor.model.storageURI"]  # ...we do not


def test_patch_is_sent_as_a_json_merge_patch(fake_kube: FakeKubernetesApi) -> None:
    kube.patch_inference_service("iris-serving", "models", promotion.inference_service_patch(URI))

    [request] = fake_kube.patches
    assert request.path == (
        "/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/iris-serving"
    )
    assert request.headers["content-type"] == "application/merge-patch+json"
    assert request.json() == promotion.inference_service_patch(URI)
    stored = fake_kube.objects[("models", "iris-serving")]
    assert stored["spec"]["predictor"]["model"]["storageUri"] == URI


def test_patching_twice_changes_nothing_the_second_time(fake_kube: FakeKubernetesApi) -> None:
    patch = promotion.inference_service_patch(URI)
    kube.patch_inference_service("iris-serving", "models", patch)
    after_first = json.dumps(fake_kube.objects[("models", "iris-serving")], sort_keys=True)

    kube.patch_inference_service("iris-serving", "models", patch)

    assert json.dumps(fake_kube.objects[("models", "iris-serving")], sort_keys=True) == after_first


def test_forbidden_patch_names_the_missing_permission(fake_kube: FakeKubernetesApi) -> None:
    fake_kube.forbid_patch = True

    with pytest.raises(DeployPermissionError) as caught:
        kube.patch_inference_service(
            "iris-serving", "models", promotion.inference_service_patch(URI)
        )

    message = str(caught.value)
    assert "403 Forbidden" in message
    assert "lacks the 'patch' permission on 'inferenceservices'" in message
    assert "serving.kserve.io" in message
    assert "'models'" in message


def test_missing_inference_service_says_so(fake_kube: FakeKubernetesApi) -> None:
    with pytest.raises(DeployError, match=r"404 Not Found.*create the InferenceService first"):
        kube.patch_inference_service("absent", "models", promotion.inference_service_patch(URI))
