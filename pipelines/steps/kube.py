"""The Kubernetes API as the deploy step uses it: read, patch and watch one InferenceService.

Configuration, first match wins: ``KUBERNETES_API_URL`` (+ optional ``KUBERNETES_API_TOKEN``; used
by tests to point at a fake API on 127.0.0.1), the in-cluster ServiceAccount, then kubeconfig.
The promotion's ServiceAccount needs ``get`` and ``patch`` on ``inferenceservices`` and nothing
else (charts/approval-bot-serving grants exactly that).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.errors import DeployError, DeployPermissionError, NotReadyError

log = logging.getLogger(__name__)

KSERVE_GROUP = "serving.kserve.io"
KSERVE_VERSION = "v1beta1"
INFERENCE_SERVICES = "inferenceservices"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
REQUEST_TIMEOUT_SECONDS = 30


def default_namespace() -> str:
    """The pod's own namespace on a cluster, else ``default``."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def custom_objects_api() -> Any:
    """A ``CustomObjectsApi`` configured as described in the module docstring."""
    from kubernetes import client, config

    host = os.environ.get("KUBERNETES_API_URL", "").strip()
    if host:
        configuration = client.Configuration()
        configuration.host = host.rstrip("/")
        token = os.environ.get("KUBERNETES_API_TOKEN", "").strip()
        if token:
            configuration.api_key = {"authorization": token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.CustomObjectsApi(client.ApiClient(configuration))
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


def _api_error(error: Any, verb: str, name: str, namespace: str) -> DeployError:
    target = f"{INFERENCE_SERVICES}.{KSERVE_GROUP} {namespace}/{name}"
    doing = {"get": "reading", "patch": "patching"}[verb]
    if error.status == 403:
        return DeployPermissionError(
            f"403 Forbidden {doing} {target}: the pipeline's ServiceAccount lacks the '{verb}' "
            f"permission on '{INFERENCE_SERVICES}' (apiGroup {KSERVE_GROUP}) in namespace "
            f"{namespace!r}; grant it with a Role/RoleBinding (verbs: get, patch; "
            f"charts/approval-bot-serving has one). API said: {_message(error)}"
        )
    if error.status == 404:
        return DeployError(
            f"404 Not Found {doing} {target}: create the InferenceService first "
            f"(charts/approval-bot-serving). API said: {_message(error)}"
        )
    return DeployError(f"{error.status} {doing} {target}: {_message(error)}")


def get_inference_service(name: str, namespace: str) -> dict[str, Any]:
    """The InferenceService as the API server has it (spec and status)."""
    from kubernetes.client.exceptions import ApiException

    api = custom_objects_api()
    try:
        result = api.get_namespaced_custom_object(
            KSERVE_GROUP,
            KSERVE_VERSION,
            namespace,
            INFERENCE_SERVICES,
            name,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except ApiException as error:
        raise _api_error(error, "get", name, namespace) from error
    return dict(result) if isinstance(result, dict) else {}


def patch_inference_service(name: str, namespace: str, patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (kubernetes 30.x sends ``application/merge-patch+json`` for a dict)."""
    from kubernetes.client.exceptions import ApiException

    api = custom_objects_api()
    try:
        result = api.patch_namespaced_custom_object(
            KSERVE_GROUP,
            KSERVE_VERSION,
            namespace,
            INFERENCE_SERVICES,
            name,
            patch,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except ApiException as error:
        raise _api_error(error, "patch", name, namespace) from error
    return dict(result) if isinstance(result, dict) else {}


def merge_patch_to(current: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The RFC 7386 merge patch that turns ``current`` into ``target`` (empty: they are equal)."""
    patch: dict[str, Any] = {}
    for key in current.keys() | target.keys():
        if key not in target:
            patch[key] = None
        elif key not in current:
            patch[key] = target[key]
        elif isinstance(current[key], dict) and isinstance(target[key], dict):
            nested = merge_patch_to(current[key], target[key])
            if nested:
                patch[key] = nested
        elif current[key] != target[key]:
            patch[key] = target[key]
    return patch


# KServe's modelStatus.transitionStatus values that mean the new model will not load.
FAILED_TRANSITIONS = frozenset({"BlockedByFailedLoad", "InvalidSpec"})


@dataclass(frozen=True)
class Rollout:
    """Where an InferenceService's status stands: KServe has (not) picked up a change yet.

    KServe copies the observedGeneration of the Deployment (raw mode) or Knative Service
    (serverless) it manages into ``status.observedGeneration``, and the predictor's newest
    revision into ``status.components.predictor.latestCreatedRevision``; either moves once it
    acted on a new spec. Until one moves, the status (Ready or failed) describes the old spec.
    """

    observed_generation: Any
    latest_created_revision: Any

    @classmethod
    def of(cls, service: dict[str, Any]) -> Rollout:
        status = service.get("status") or {}
        predictor = (status.get("components") or {}).get("predictor") or {}
        return cls(status.get("observedGeneration"), predictor.get("latestCreatedRevision"))


def readiness(service: dict[str, Any]) -> tuple[str, str]:
    """("ready" | "failed" | "pending", what the status says) for the service's current status."""
    status = service.get("status") or {}
    model_status = status.get("modelStatus") or {}
    if model_status.get("transitionStatus") in FAILED_TRANSITIONS:
        failure = model_status.get("lastFailureInfo") or {}
        detail = ": ".join(str(failure[k]) for k in ("reason", "message") if failure.get(k))
        return "failed", f"{model_status['transitionStatus']} ({detail or 'no details'})"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready")
    if ready is None:
        return "pending", "no Ready condition yet"
    summary = f"Ready={ready.get('status')}"
    if ready.get("reason") or ready.get("message"):
        summary += f" ({ready.get('reason', '')}: {ready.get('message', '')})"
    predictor = (status.get("components") or {}).get("predictor") or {}
    created, ready_revision = (
        predictor.get("latestCreatedRevision"),
        predictor.get("latestReadyRevision"),
    )
    if ready.get("status") == "True" and (created is None or created == ready_revision):
        return "ready", summary
    return "pending", summary


def wait_until_ready(
    name: str,
    namespace: str,
    *,
    before: dict[str, Any],
    patched: dict[str, Any],
    timeout_seconds: float,
    poll_seconds: float = 5.0,
) -> dict[str, Any]:
    """Wait until KServe reports the patched spec Ready; else ``NotReadyError`` (failed, timeout).

    ``before`` is the service read before the patch and ``patched`` the patch's response: when
    the patch changed the spec (metadata.generation moved), a status counts only once KServe
    acted on it (``Rollout`` moved), so the old revision's Ready is never taken for the new one.
    """
    changed = (before.get("metadata") or {}).get("generation") != (
        patched.get("metadata") or {}
    ).get("generation")
    rollout_before = Rollout.of(before)
    deadline = time.monotonic() + timeout_seconds
    detail = "KServe has not picked up the new spec"
    while True:
        service = get_inference_service(name, namespace)
        if not changed or Rollout.of(service) != rollout_before:
            state, detail = readiness(service)
            if state == "ready":
                return service
            if state == "failed":
                raise NotReadyError(f"InferenceService {namespace}/{name} failed: {detail}")
        if time.monotonic() >= deadline:
            raise NotReadyError(
                f"InferenceService {namespace}/{name} did not become Ready within "
                f"{timeout_seconds:g}s (last status: {detail})"
            )
        log.info("waiting for InferenceService %s/%s: %s", namespace, name, detail)
        time.sleep(poll_seconds)


def _message(error: Any) -> str:
    import json

    try:
        return str(json.loads(error.body).get("message", error.reason))
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)
