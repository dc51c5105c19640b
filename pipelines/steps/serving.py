"""Has KServe rolled out the spec we patched? Read the way KServe computes it (docs/kserve.md).

Pure functions over the objects the Kubernetes API returns; ``rollout`` does the polling.

**Serverless** (status.deploymentMode ``Serverless``, ``Knative`` from KServe 0.16): KServe
copies the predictor's Knative Service status into the InferenceService
(``PropagateStatus`` in pkg/apis/serving/v1beta1/inference_service_status.go):
``components.predictor.latestCreatedRevision`` / ``latestReadyRevision`` / ``traffic``, the
Knative Service's ``observedGeneration``, and its Ready / ConfigurationsReady / RoutesReady as
PredictorReady / PredictorConfigurationReady / PredictorRouteReady. A new spec is Ready once a
*new* revision is created, it is the latest ready one, it takes 100% of the traffic and Ready
is True. A failed revision is ``PredictorConfigurationReady=False`` (Knative's
``RevisionFailed``).

**RawDeployment** (``RawDeployment``, ``Standard`` from KServe 0.16): there are no revisions,
and Ready mirrors the predictor Deployment's ``Available``, which stays True from the old
ReplicaSet during a rollout (``PropagateRawStatus``). So the Deployment ``<name>-predictor``
is read: its ``metadata.generation`` must move (KServe applied the new pod template), then the
rollout must complete as ``kubectl rollout status`` decides it (observedGeneration, then
updatedReplicas, old replicas gone, availableReplicas), or fail on ``ProgressDeadlineExceeded``.

In both modes ``modelStatus.transitionStatus`` ``InvalidSpec`` (set by the predictor reconciler
before anything is deployed, so no revision ever moves) and ``BlockedByFailedLoad`` (the model
did not load) fail at once instead of at the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.errors import DeployError

SERVERLESS = "Serverless"
RAW = "RawDeployment"
# status.deploymentMode (KServe 0.15.1+; renamed in 0.16) and the annotation, to our two modes
MODES = {"Serverless": SERVERLESS, "Knative": SERVERLESS, "RawDeployment": RAW, "Standard": RAW}
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
INVALID_SPEC = "InvalidSpec"
FAILED_LOAD = "BlockedByFailedLoad"
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"  # k8s.io/kubectl rollout_status.go TimedOutReason


def deployment_mode(service: dict[str, Any]) -> str:
    """``SERVERLESS`` or ``RAW``; a DeployError (before anything moves) if it cannot be told."""
    name = (service.get("metadata") or {}).get("name", "?")
    status = service.get("status") or {}
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    for said in (status.get("deploymentMode"), annotations.get(MODE_ANNOTATION)):
        if said in MODES:
            return MODES[said]
        if said:
            raise DeployError(
                f"InferenceService {name} is in deployment mode {said!r}: the promotion "
                f"handles {', '.join(sorted(MODES))} (docs/kserve.md)"
            )
    predictor = (status.get("components") or {}).get("predictor") or {}
    if "latestReadyRevision" in predictor or "traffic" in predictor:
        return SERVERLESS  # only Knative reports revisions that became ready, and traffic
    raise DeployError(
        f"cannot tell whether InferenceService {name} runs in Serverless or RawDeployment "
        f"mode: its status has no deploymentMode (KServe before 0.15.1) and no Knative revision "
        f"is ready; annotate it with {MODE_ANNOTATION}: Serverless or RawDeployment"
    )


def predictor_deployment(name: str) -> str:
    """The predictor's Deployment in RawDeployment mode (KServe constants.PredictorServiceName)."""
    return f"{name}-predictor"


def storage_uri_of(service: dict[str, Any]) -> str | None:
    predictor = (service.get("spec") or {}).get("predictor") or {}
    uri = (predictor.get("model") or {}).get("storageUri")
    return str(uri) if uri is not None else None


def _generation(obj: dict[str, Any] | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("generation")


def _predictor(service: dict[str, Any]) -> dict[str, Any]:
    status = service.get("status") or {}
    return dict((status.get("components") or {}).get("predictor") or {})


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def _said(condition: dict[str, Any]) -> str:
    return ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))


def _model_failure(service: dict[str, Any]) -> tuple[Any, Any]:
    model_status = (service.get("status") or {}).get("modelStatus") or {}
    return model_status.get("transitionStatus"), model_status.get("lastFailureInfo")


@dataclass(frozen=True)
class Baseline:
    """What the InferenceService (and, raw, its Deployment) said before the patch."""

    generation: Any
    revision: Any
    deployment_generation: Any
    failure: tuple[Any, Any]

    @classmethod
    def of(cls, service: dict[str, Any], deployment: dict[str, Any] | None = None) -> Baseline:
        return cls(
            generation=_generation(service),
            revision=_predictor(service).get("latestCreatedRevision"),
            deployment_generation=_generation(deployment),
            failure=_model_failure(service),
        )


@dataclass(frozen=True)
class Verdict:
    state: str  # "ready" | "failed" | "pending"
    detail: str


def _pending(detail: str) -> Verdict:
    return Verdict("pending", detail)


def _failed_model(service: dict[str, Any], baseline: Baseline) -> Verdict | None:
    """InvalidSpec or BlockedByFailedLoad, unless it is exactly what was there before."""
    transition, info = _model_failure(service)
    if transition not in (INVALID_SPEC, FAILED_LOAD) or (transition, info) == baseline.failure:
        return None
    detail = _said(info or {})
    return Verdict("failed", f"{transition} ({detail or 'no details'})")


def assess(
    mode: str,
    service: dict[str, Any],
    baseline: Baseline,
    *,
    deployment: dict[str, Any] | None = None,
) -> Verdict:
    """Where the rollout of the patched spec stands (``changed``: the patch moved the spec)."""
    changed = _generation(service) != baseline.generation
    if mode == RAW:
        return _assess_raw(service, deployment or {}, baseline, changed)
    return _assess_serverless(service, baseline, changed)


def _ready_summary(service: dict[str, Any]) -> str:
    ready = _condition(service, "Ready")
    said = _said(ready)
    return f"Ready={ready.get('status', 'absent')}" + (f" ({said})" if said else "")


def _assess_serverless(service: dict[str, Any], baseline: Baseline, changed: bool) -> Verdict:
    failed = _failed_model(service, baseline)
    if failed is not None and failed.detail.startswith(INVALID_SPEC):
        return failed  # the predictor reconciler stopped before any revision: nothing will move
    predictor = _predictor(service)
    created = predictor.get("latestCreatedRevision")
    if changed and created == baseline.revision:
        return _pending(f"KServe has not created a revision for the new spec yet ({created})")
    if failed is not None:
        return failed
    configuration = _condition(service, "PredictorConfigurationReady")
    if configuration.get("status") == "False":
        return Verdict("failed", f"revision {created} failed ({_said(configuration)})")
    latest_ready = predictor.get("latestReadyRevision")
    traffic = predictor.get("traffic")
    share = sum(
        int(t.get("percent") or 0) for t in traffic or [] if t.get("revisionName") == created
    )
    summary = (
        f"{_ready_summary(service)}, revision {created} (latest ready: {latest_ready}), "
        f"{share}% of the traffic"
    )
    ready = _condition(service, "Ready").get("status") == "True"
    if ready and latest_ready == created and (traffic is None or share == 100):
        return Verdict("ready", summary)
    return _pending(summary)


def _rollout_status(deployment: dict[str, Any]) -> str | None:
    """What the Deployment's rollout still waits for (None: complete), as ``kubectl rollout
    status`` says it (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go)."""
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    if status.get("observedGeneration", 0) < (_generation(deployment) or 0):
        return "waiting for the Deployment's spec update to be observed"
    if updated < wanted:
        return f"{updated} of {wanted} new replicas updated"
    if status.get("replicas", 0) > updated:
        return f"{status.get('replicas', 0) - updated} old replicas pending termination"
    if available < updated:
        return f"{available} of {updated} updated replicas available"
    return None


def _assess_raw(
    service: dict[str, Any], deployment: dict[str, Any], baseline: Baseline, changed: bool
) -> Verdict:
    failed = _failed_model(service, baseline)
    if failed is not None and failed.detail.startswith(INVALID_SPEC):
        return failed
    name = (deployment.get("metadata") or {}).get("name", "the predictor Deployment")
    if changed and _generation(deployment) == baseline.deployment_generation:
        return _pending(f"KServe has not updated Deployment {name} for the new spec yet")
    progressing = _condition(deployment, "Progressing")
    if progressing.get("status") == "False" and progressing.get("reason") == DEADLINE_EXCEEDED:
        return Verdict("failed", f"Deployment {name} {_said(progressing)}")
    if failed is not None:
        return failed
    waiting = _rollout_status(deployment)
    if waiting is not None:
        return _pending(f"Deployment {name}: {waiting}; {_ready_summary(service)}")
    summary = f"Deployment {name} rolled out; {_ready_summary(service)}"
    if _condition(service, "Ready").get("status") == "True":
        return Verdict("ready", summary)
    return _pending(summary)
