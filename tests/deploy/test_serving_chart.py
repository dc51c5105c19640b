"""charts/approval-bot-serving: KServe objects against the CRD schemas, storage, RBAC, pipelines."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pipelines import definitions
from pipelines.steps import promotion, runtime
from pipelines.steps import serving as serving_module
from tests.deploy import helm
from tests.deploy.helm import MINIO_SECRETS, MINIO_VALUES, SERVING_CHART, Rendered, template
from tests.support import kube_schemas


@pytest.fixture(scope="module")
def serving() -> Rendered:
    return template(SERVING_CHART, MINIO_VALUES, set_values=MINIO_SECRETS, namespace="models")


def test_helm_lint_passes() -> None:
    secrets = [arg for assignment in MINIO_SECRETS for arg in ("--set", assignment)]
    output = helm.run(
        "lint", "--strict", str(SERVING_CHART), "--values", str(MINIO_VALUES), *secrets
    )

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
                *MINIO_SECRETS,
                "pipelines.secret.readWrite.accessKeyId=kserve-readonly",
                "pipelines.secret.readWrite.secretAccessKey=x",
            ],
        )

    assert "storage.readOnly.accessKeyId is the pipelines' read-write key" in str(failed.value)


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        ([], "approval-bot-serving: storage.endpoint is required"),
        (
            [*MINIO_SECRETS, "storage.endpoint=http://minio:9000"],
            "storage.endpoint is host:port without a scheme",
        ),
        ([MINIO_SECRETS[0]], "approval-bot-serving: bot.apiToken is required"),
        ([MINIO_SECRETS[1]], "approval-bot-serving: storage.readOnly.secretAccessKey is required"),
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


def test_the_bot_chart_grants_nothing_but_kfp_in_the_profile_namespace() -> None:
    bot = template(helm.BOT_CHART, helm.PRODUCTION_VALUES)
    [binding] = bot.all("RoleBinding")

    assert rbac_verbs(bot) == {}
    assert bot.all("ClusterRole") == bot.all("ClusterRoleBinding") == []
    assert binding["metadata"]["namespace"] == "kubeflow-user-ml"
    assert binding["roleRef"]["name"] == "kubeflow-pipelines-edit"


def test_knative_speaks_http1_to_the_runtime_in_the_v2_protocol(serving: Rendered) -> None:
    """The port's name picks the protocol Knative's queue-proxy speaks to MLServer's uvicorn
    (HTTP/1.1 only): h2c made every inference fail (test_serving_compat.py speaks it)."""
    runtime_spec = serving.one("ServingRuntime")["spec"]
    [container] = runtime_spec["containers"]
    model = serving.one("InferenceService")["spec"]["predictor"]["model"]

    assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [("http1", 8080)]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLSERVER_HTTP_PORT"] == "8080"
    assert runtime_spec["protocolVersions"] == ["v2"]
    assert model["protocolVersion"] == "v2"


def test_the_runtime_starts_without_a_model_until_the_first_promotion(serving: Rendered) -> None:
    [container] = serving.one("ServingRuntime")["spec"]["containers"]
    shell, flag, script = container["command"]

    assert (shell, flag) == ("sh", "-c")
    assert "[ -e /mnt/models/MLmodel ] || export MLSERVER_LOAD_MODELS_AT_STARTUP=false" in script
    assert script.rstrip().endswith("exec mlserver start /mnt/models")
    # on the runtime, not the InferenceService: helm would put it back over a promotion
    assert "env" not in serving.one("InferenceService")["spec"]["predictor"]["model"]


SECRET_VALUES = [
    ("storage", "readOnly", "secretAccessKey"),
    ("bot", "apiToken"),
    ("pipelines", "secret", "mlflowTrackingPassword"),
    ("pipelines", "secret", "readWrite", "secretAccessKey"),
]


def test_the_example_holds_no_secret_so_the_required_check_still_bites() -> None:
    example = yaml.safe_load(MINIO_VALUES.read_text())

    for path in SECRET_VALUES:
        found: Any = example
        for key in path:
            found = found.get(key, {}) if isinstance(found, dict) else {}
        assert found in ({}, "", None), f"{'.'.join(path)} has a value in the example"
    with pytest.raises(helm.HelmError, match=r"storage\.readOnly\.secretAccessKey is required"):
        template(SERVING_CHART, MINIO_VALUES)


def test_the_values_schema_rejects_unknown_and_mistyped_values() -> None:
    def fails(*assignments: str) -> str:
        with pytest.raises(helm.HelmError) as failed:
            template(SERVING_CHART, MINIO_VALUES, set_values=[*MINIO_SECRETS, *assignments])
        return str(failed.value)

    assert "storgae" in fails("storgae.endpoint=minio:9000")
    assert "minReplicas" in fails("inferenceService.minReplicas=one")
    assert "name" in fails("inferenceService.name=Iris_Serving")
    assert "useHttps" in fails("storage.useHttps=yes")
    assert (
        template(  # --set gives numbers; both spellings of the flags are fine
            SERVING_CHART, MINIO_VALUES, set_values=[*MINIO_SECRETS, "storage.useHttps=1"]
        ).one("Secret", "kserve-minio-credentials")["metadata"]["annotations"][
            "serving.kserve.io/s3-usehttps"
        ]
        == "1"
    )


def test_the_schema_and_values_yaml_name_the_same_values() -> None:
    def keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for key, value in tree.items():
            found.add(prefix + key)
            if isinstance(value, dict) and value.get("properties") is not None:
                found |= keys(value["properties"], f"{prefix}{key}.")
        return found

    def value_keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for key, value in tree.items():
            found.add(prefix + key)
            if isinstance(value, dict) and key not in ("resources", "annotations"):
                found |= value_keys(value, f"{prefix}{key}.")
        return found

    values = yaml.safe_load((SERVING_CHART / "values.yaml").read_text())
    schema = yaml.safe_load((SERVING_CHART / "values.schema.json").read_text())

    assert keys(schema["properties"]) - {"global"} == value_keys(values)
