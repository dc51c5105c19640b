"""The Kubernetes API as the deploy step uses it: configuration and the InferenceService patch.

Configuration, first match wins: ``KUBERNETES_API_URL`` (+ optional ``KUBERNETES_API_TOKEN``; used
by tests to point at a fake API on 127.0.0.1), the in-cluster ServiceAccount, then kubeconfig.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipelines.errors import DeployError, DeployPermissionError

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
        target = f"{INFERENCE_SERVICES}.{KSERVE_GROUP} {namespace}/{name}"
        if error.status == 403:
            raise DeployPermissionError(
                f"403 Forbidden patching {target}: the pipeline's ServiceAccount lacks the 'patch' "
                f"permission on '{INFERENCE_SERVICES}' (apiGroup {KSERVE_GROUP}) in namespace "
                f"{namespace!r}; grant it with a Role/RoleBinding (verbs: get, patch). "
                f"API said: {_message(error)}"
            ) from error
        if error.status == 404:
            raise DeployError(
                f"404 Not Found patching {target}: create the InferenceService first "
                f"(see charts/ for a manifest). API said: {_message(error)}"
            ) from error
        raise DeployError(f"{error.status} patching {target}: {_message(error)}") from error
    return dict(result) if isinstance(result, dict) else {}


def _message(error: Any) -> str:
    import json

    try:
        return str(json.loads(error.body).get("message", error.reason))
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)
