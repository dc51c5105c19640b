"""How the promotion reads KServe's status (pipelines/steps/serving.py), on the objects the fake
controller (tests/pipelines/kube_fake.py) produces step by step, as KServe would."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.errors import DeployError
from pipelines.steps import kube, serving
from tests.pipelines.kube_fake import RAW, SERVERLESS, FakeKubernetesApi

NS, NAME, URI = "models", "iris-serving", "s3://mlflow/artifacts/2/models/m-2/artifacts"


def isvc(status: dict[str, Any] | None = None, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": NAME, "annotations": annotations}, "status": status or {}}


@pytest.mark.parametrize(
    ("service", "mode"),
    [
        (isvc({"deploymentMode": "Knative"}), serving.SERVERLESS),  # KServe 0.16+
        (isvc({"deploymentMode": "Serverless"}), serving.SERVERLESS),  # 0.15
        (isvc({"deploymentMode": "Standard"}), serving.RAW),
        (isvc({"deploymentMode": "RawDeployment"}), serving.RAW),
        (isvc(**{serving.MODE_ANNOTATION: "RawDeployment"}), serving.RAW),  # 0.14: annotation
        (
            isvc({"components": {"predictor": {"latestReadyRevision": "x-00001"}}}),
            serving.SERVERLESS,
        ),
    ],
)
def test_the_deployment_mode_is_read_from_status_or_annotation(
    service: dict[str, Any], mode: str
) -> None:
    assert serving.deployment_mode(service) == mode


def test_a_mode_that_cannot_be_told_or_handled_is_refused() -> None:
    legacy_raw = isvc({"components": {"predictor": {"latestCreatedRevision": "1"}}})
    with pytest.raises(DeployError, match=f"annotate it with {serving.MODE_ANNOTATION}"):
        serving.deployment_mode(legacy_raw)
    with pytest.raises(DeployError, match="deployment mode 'ModelMesh'"):
        serving.deployment_mode(isvc({"deploymentMode": "ModelMesh"}))


def deployment(generation: int, observed: int, replicas: int, updated: int, available: int):
    return {
        "metadata": {"name": f"{NAME}-predictor", "generation": generation},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


@pytest.mark.parametrize(
    ("found", "waiting"),
    [
        (deployment(2, 1, 1, 1, 1), "waiting for the Deployment's spec update to be observed"),
        (deployment(2, 2, 1, 0, 1), "0 of 1 new replicas updated"),
        (deployment(2, 2, 2, 1, 1), "1 old replicas pending termination"),
        (deployment(2, 2, 1, 1, 0), "0 of 1 updated replicas available"),
        (deployment(2, 2, 1, 1, 1), None),
    ],
)
def test_a_rollout_is_complete_as_kubectl_rollout_status_says(
    found: dict[str, Any], waiting: str | None
) -> None:
    assert serving._rollout_status(found) == waiting


@pytest.fixture(params=[SERVERLESS, RAW])
def cluster(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with FakeKubernetesApi(mode=request.param) as fake:
        fake.add_inference_service(NS, NAME)
        monkeypatch.setenv("KUBERNETES_API_URL", fake.url)
        yield fake


def read(fake: FakeKubernetesApi) -> tuple[dict[str, Any], dict[str, Any] | None]:
    service = kube.get_inference_service(NAME, NS)
    found = kube.get_deployment(f"{NAME}-predictor", NS) if fake.mode == RAW else None
    return service, found


def test_no_state_before_the_end_of_the_rollout_reads_as_ready(cluster: FakeKubernetesApi) -> None:
    """Every state KServe reports on the way counts as pending, though some say Ready=True
    (the old revision's, or in RawDeployment the old ReplicaSet's Available)."""
    before, before_deployment = read(cluster)
    baseline = serving.Baseline.of(before, before_deployment)
    mode = serving.deployment_mode(before)
    cluster.react_after = 1_000_000  # the controller only moves when the test says so
    kube.patch_inference_service(NAME, NS, {"spec": {"predictor": {"model": {"storageUri": URI}}}})
    seen = []
    while True:
        service, found = read(cluster)
        verdict = serving.assess(mode, service, baseline, deployment=found)
        ready = next(c for c in service["status"]["conditions"] if c["type"] == "Ready")
        seen.append((verdict.state, ready["status"]))
        if cluster.steps_left(NS, NAME) == 0:
            break
        cluster.advance(NS, NAME)

    assert seen[-1] == ("ready", "True")
    assert all(state == "pending" for state, _ in seen[:-1]), seen
    assert ("pending", "True") in seen, "a Ready=True that is not ours was presented"


def test_an_unchanged_spec_is_ready_as_it_is(cluster: FakeKubernetesApi) -> None:
    before, before_deployment = read(cluster)
    baseline = serving.Baseline.of(before, before_deployment)

    again = copy.deepcopy(before)
    verdict = serving.assess(
        serving.deployment_mode(before), again, baseline, deployment=before_deployment
    )

    assert verdict.state == "ready", verdict.detail
