"""charts/approval-bot-serving: KServe objects against the CRD schemas, storage, RBAC, pipelines."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines import definitions
from pipelines.steps import promotion, runtime
from pipelines.steps import serving as serving_module
from tests.deploy import helm
from tests.deploy.helm import MINIO_VALUES, SERVING_CHART, Rendered, template
from tests.support import kube_schemas


@pytest.fixture(scope="module")
def serving() -> Rendered:
    return template(SERVING_CHART, MINIO_VALUES, namespace="models")


def test_helm_lint_passes() -> None:
    output = helm.run("lint", "--strict", str(SERVING_CHART), "--values", str(MINIO_VALUES))

    assert "0 chart(s) failed" in output


def test_every_rendered_object_is_valid(serving: Rendered) -> None:
    assert serving.kinds() == {
        "ServingRuntime", "InferenceService", "Secret", "ServiceAccount", "Role", "RoleBinding",
    }  # fmt: skip
    problems = [p for obj in serving.objects for p in kube_schemas.problems(obj)]
    assert problems == []


def test_the_kserve_key_check_catches_storage_uri_misspelt(serving: Rendered) -> None:
    service = serving.one("InferenceService")
    service["spec"]["predictor"]["model"]["storageURI"] = "s3://mlflow/artifacts/1/m/artifacts"

    assert kube_schemas.problems(service) == [
        "InferenceService iris-serving: unknown key .spec.predictor.model.storageURI"
    ]


def test_the_inference_service_names_the_runtime_the_promotion_patches(serving: Rendered) -> None:
    runtime_object = serving.one("ServingRuntime")
    service = serving.one("InferenceService", "iris-serving")
    model = service["spec"]["predictor"]["model"]
    patched = promotion.inference_service_patch("s3://x")["spec"]["predictor"]["model"]

    assert runtime_object["metadata"]["name"] == model["runtime"] == patched["runtime"]
    assert model["modelFormat"] == patched["modelFormat"]
    assert model["modelFormat"] in [
        {"name": f["name"], "version": f["version"]}
        for f in runtime_object["spec"]["supportedModelFormats"]
    ]
    assert "storageUri" not in model  # owned by the promotion, not by helm
    assert service["spec"]["predictor"]["serviceAccountName"] == "kserve-minio-sa"


def test_the_runtime_image_is_pinned_and_the_container_loads_mlflow_models(
    serving: Rendered,
) -> None:
    [container] = serving.one("ServingRuntime")["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}

    assert container["image"] == "registry.example.com/mlops/approval-bot-serving:0.1.0"
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == "mlserver_mlflow.MLflowRuntime"
    assert env["MLSERVER_MODEL_URI"] == "/mnt/models"
    assert env["MLSERVER_MODEL_NAME"] == "{{.Name}}"  # KServe fills in the InferenceService name
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_kserve_reads_minio_with_its_own_annotated_read_only_secret(serving: Rendered) -> None:
    secret = serving.one("Secret", "kserve-minio-credentials")
    account = serving.one("ServiceAccount", "kserve-minio-sa")

    assert secret["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.minio.svc.cluster.local:9000",
        "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-verifyssl": "0",
        "serving.kserve.io/s3-region": "us-east-1",
    }
    assert secret["stringData"]["AWS_ACCESS_KEY_ID"] == "kserve-readonly"
    assert account["secrets"] == [{"name": "kserve-minio-credentials"}]


def test_the_promotion_may_get_and_patch_this_inference_service_only(serving: Rendered) -> None:
    role = serving.one("Role")
    binding = serving.one("RoleBinding")

    assert role["rules"] == [
        {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices"],
            "resourceNames": ["iris-serving"],
            "verbs": ["get", "patch"],
        },
        {  # RawDeployment mode: the rollout of the predictor (pipelines/steps/serving.py)
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [serving_module.predictor_deployment("iris-serving")],
            "verbs": ["get"],
        },
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "default-editor", "namespace": "kubeflow-user-ml"}
    ]
    assert "namespace" not in role["metadata"]  # the release's (serving) namespace


def test_the_pipelines_secret_has_the_keys_the_pipelines_read(serving: Rendered) -> None:
    secret = serving.one("Secret", runtime.SECRET_NAME)
    keys = set(secret["stringData"])
    required = set(definitions.MLFLOW_SECRET_KEYS + definitions.BOT_SECRET_KEYS)

    assert secret["metadata"]["namespace"] == "kubeflow-user-ml"
    assert required <= keys
    assert keys - required <= set(definitions.OPTIONAL_SECRET_KEYS)
    assert "AWS_ACCESS_KEY_ID" not in keys  # MLflow proxies the artifacts in this example


def test_the_read_write_key_may_not_double_as_the_read_only_one() -> None:
    with pytest.raises(helm.HelmError) as failed:
        template(
            SERVING_CHART,
            MINIO_VALUES,
            set_values=[
                "pipelines.secret.readWrite.accessKeyId=kserve-readonly",
                "pipelines.secret.readWrite.secretAccessKey=x",
            ],
        )

    assert "storage.readOnly.accessKeyId is the pipelines' read-write key" in str(failed.value)


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        ([], "approval-bot-serving: storage.endpoint is required"),
        (["storage.endpoint=http://minio:9000"], "storage.endpoint is host:port without a scheme"),
        (["bot.apiToken="], "approval-bot-serving: bot.apiToken is required"),
    ],
)
def test_missing_required_values_fail_naming_what_to_set(
    assignments: list[str], message: str
) -> None:
    values = [] if not assignments else [MINIO_VALUES]
    with pytest.raises(helm.HelmError) as failed:
        template(SERVING_CHART, *values, set_values=assignments)

    assert message in str(failed.value)


def rbac_verbs(rendered: Rendered) -> dict[str, Any]:
    return {r["metadata"]["name"]: r["rules"] for r in rendered.all("Role")}


def test_the_bot_chart_grants_nothing_in_the_kubernetes_api() -> None:
    bot = template(helm.BOT_CHART, helm.PRODUCTION_VALUES)

    assert rbac_verbs(bot) == {}
    assert bot.all("ClusterRole") == bot.all("RoleBinding") == []
