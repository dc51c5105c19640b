"""The Kubernetes API as the deploy step uses it: read and patch one InferenceService, and read
its predictor Deployment (RawDeployment mode).

Configuration, first match wins: ``KUBERNETES_API_URL`` (+ optional ``KUBERNETES_API_TOKEN``; used
by tests to point at a fake API on 127.0.0.1), the in-cluster ServiceAccount, then kubeconfig.
The promotion's ServiceAccount needs ``get`` and ``patch`` on that one ``inferenceservices`` and,
in RawDeployment mode, ``get`` on its ``deployments`` ``<name>-predictor``, and nothing else
(charts/approval-bot-serving grants exactly that).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pipelines.errors import ConflictError, DeployError, DeployPermissionError

log = logging.getLogger(__name__)

KSERVE_GROUP = "serving.kserve.io"
KSERVE_VERSION = "v1beta1"
INFERENCE_SERVICES = "inferenceservices"
DEPLOYMENTS = "deployments"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
REQUEST_TIMEOUT_SECONDS = 30


def default_namespace() -> str:
    """The pod's own namespace on a cluster, else ``default``."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def api_client() -> Any:
    """An ``ApiClient`` configured as described in the module docstring."""
    from kubernetes import client, config

    host = os.environ.get("KUBERNETES_API_URL", "").strip()
    if host:
        configuration = client.Configuration()
        configuration.host = host.rstrip("/")
        token = os.environ.get("KUBERNETES_API_TOKEN", "").strip()
        if token:
            configuration.api_key = {"authorization": token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def custom_objects_api() -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(api_client())


def _api_error(
    error: Any, verb: str, name: str, namespace: str, resource: str = INFERENCE_SERVICES
) -> DeployError:
    group = KSERVE_GROUP if resource == INFERENCE_SERVICES else "apps"
    target = f"{resource}.{group} {namespace}/{name}"
    doing = {"get": "reading", "patch": "patching"}[verb]
    if error.status == 403:
        verbs = "get, patch" if resource == INFERENCE_SERVICES else "get"
        return DeployPermissionError(
            f"403 Forbidden {doing} {target}: the pipeline's ServiceAccount lacks the '{verb}' "
            f"permission on '{resource}' (apiGroup {group}) in namespace {namespace!r}; grant "
            f"it with a Role/RoleBinding (verbs: {verbs}; charts/approval-bot-serving has one). "
            f"API said: {_message(error)}"
        )
    if error.status == 404:
        create = (
            "create the InferenceService first (charts/approval-bot-serving)"
            if resource == INFERENCE_SERVICES
            else "KServe makes it for an InferenceService in RawDeployment mode"
        )
        return DeployError(f"404 Not Found {doing} {target}: {create}. API said: {_message(error)}")
    if error.status == 409:
        return ConflictError(f"409 Conflict {doing} {target}: {_message(error)}")
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
    """JSON merge patch (kubernetes 30.x sends ``application/merge-patch+json`` for a dict).

    A ``metadata.resourceVersion`` in the patch is a precondition: the API server answers 409
    (``ConflictError``) if the object changed since that version was read.
    """
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


def get_deployment(name: str, namespace: str) -> dict[str, Any]:
    """The Deployment (apps/v1) as the API server has it, as plain JSON."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        response = client.AppsV1Api(api_client()).read_namespaced_deployment(
            name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS, _preload_content=False
        )
    except ApiException as error:
        raise _api_error(error, "get", name, namespace, resource=DEPLOYMENTS) from error
    found = json.loads(response.data)
    return dict(found) if isinstance(found, dict) else {}


def _message(error: Any) -> str:
    try:
        return str(json.loads(error.body).get("message", error.reason))
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)
