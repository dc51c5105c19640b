"""Real-protocol fakes on 127.0.0.1 for the pipelines' HTTP peers: the bot and Kubernetes."""

from __future__ import annotations

import copy
import itertools
import threading
from typing import Any

from tests.support.http_fake import FakeHttpServer, Recorded

BOT_TOKEN = "test-pipeline-token"


class FakeApprovalBot(FakeHttpServer):
    """``POST /api/v1/approvals`` and ``GET /api/v1/approvals/{id}`` with bearer auth.

    Like the real bot, the same (model_name, model_version, staging_run_id) again answers 200
    with the existing request. Tests decide outcomes with ``set_state``.
    """

    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.approvals: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._state_lock = threading.Lock()
        self.route("POST", r"/api/v1/approvals", self._submit)
        self.route("GET", r"/api/v1/approvals/(?P<request_id>[^/]+)", self._get)

    @property
    def env(self) -> dict[str, str]:
        return {"APPROVAL_BOT_URL": self.url, "APPROVAL_BOT_API_TOKEN": self.token}

    @property
    def submissions(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.method == "POST"]

    def set_state(self, request_id: str, state: str, **fields: Any) -> None:
        with self._state_lock:
            self.approvals[request_id].update(state=state, **fields)

    def _authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _submit(self, request: Recorded) -> tuple[int, Any]:
        if not self._authorized(request):
            return 401, {"detail": "missing or invalid token"}
        body = request.json()
        key = (body["model_name"], body["model_version"], body["staging_run_id"])
        with self._state_lock:
            for existing in self.approvals.values():
                if (
                    existing["model_name"],
                    existing["model_version"],
                    existing["staging_run_id"],
                ) == key:
                    return 200, copy.deepcopy(existing)
            request_id = f"req{next(self._ids):04d}"
            self.approvals[request_id] = {**body, "id": request_id, "state": "pending", "votes": []}
            return 201, copy.deepcopy(self.approvals[request_id])

    def _get(self, request: Recorded, request_id: str) -> tuple[int, Any]:
        if not self._authorized(request):
            return 401, {"detail": "missing or invalid token"}
        with self._state_lock:
            if request_id not in self.approvals:
                return 404, {"detail": f"approval request {request_id} not found"}
            return 200, copy.deepcopy(self.approvals[request_id])


ISVC_PATH = (
    r"/apis/serving\.kserve\.io/v1beta1"
    r"/namespaces/(?P<namespace>[^/]+)/inferenceservices/(?P<name>[^/]+)"
)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeKubernetesApi(FakeHttpServer):
    """Enough Kubernetes API for the InferenceService patch: stores objects, applies merge patches.

    ``forbid_patch = True`` answers 403 like an RBAC denial.
    """

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.forbid_patch = False
        self._objects_lock = threading.Lock()
        self.route("GET", ISVC_PATH, self._get)
        self.route("PATCH", ISVC_PATH, self._patch)

    @property
    def env(self) -> dict[str, str]:
        return {"KUBERNETES_API_URL": self.url}

    @property
    def patches(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PATCH"]

    def add_inference_service(self, namespace: str, name: str) -> None:
        with self._objects_lock:
            self.objects[(namespace, name)] = {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
                "spec": {
                    "predictor": {
                        "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://old"}
                    }
                },
            }

    def _status(self, code: int, reason: str, message: str) -> tuple[int, Any]:
        return code, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": reason,
            "message": message,
            "code": code,
        }

    def _get(self, request: Recorded, namespace: str, name: str) -> tuple[int, Any]:
        with self._objects_lock:
            if (namespace, name) not in self.objects:
                return self._status(
                    404, "NotFound", f'inferenceservices.serving.kserve.io "{name}" not found'
                )
            return 200, copy.deepcopy(self.objects[(namespace, name)])

    def _patch(self, request: Recorded, namespace: str, name: str) -> tuple[int, Any]:
        if self.forbid_patch:
            return self._status(
                403,
                "Forbidden",
                f'inferenceservices.serving.kserve.io "{name}" is forbidden: User '
                f'"system:serviceaccount:{namespace}:pipeline-runner" cannot patch resource '
                f'"inferenceservices" in API group "serving.kserve.io" '
                f'in the namespace "{namespace}"',
            )
        if request.headers.get("content-type") != "application/merge-patch+json":
            return self._status(
                415, "UnsupportedMediaType", f"unexpected {request.headers.get('content-type')}"
            )
        with self._objects_lock:
            if (namespace, name) not in self.objects:
                return self._status(
                    404, "NotFound", f'inferenceservices.serving.kserve.io "{name}" not found'
                )
            current = self.objects[(namespace, name)]
            patched = merge_patch(current, request.json())
            if patched != current:
                version = int(current["metadata"]["resourceVersion"]) + 1
                patched["metadata"]["resourceVersion"] = str(version)
                self.objects[(namespace, name)] = patched
            return 200, copy.deepcopy(self.objects[(namespace, name)])
