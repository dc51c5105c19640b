"""Real-protocol fakes on 127.0.0.1 for the pipelines' HTTP peers: the bot and KFP.

Kubernetes and KServe: tests/pipelines/kube_fake.py.
"""

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
            self.approvals[request_id] = {
                **body,
                "id": request_id,
                "state": "pending",
                "votes": [],
                "newer_approval": None,  # as the real bot: no newer approval of the model
            }
            return 201, copy.deepcopy(self.approvals[request_id])

    def _get(self, request: Recorded, request_id: str) -> tuple[int, Any]:
        if not self._authorized(request):
            return 401, {"detail": "missing or invalid token"}
        with self._state_lock:
            if request_id not in self.approvals:
                return 404, {"detail": f"approval request {request_id} not found"}
            return 200, copy.deepcopy(self.approvals[request_id])


def _display_name_filter(request: Recorded) -> str | None:
    """The display_name an ``EQUALS`` filter asks for (KFP sends the operation as 1 or "EQUALS")."""
    import json

    raw = request.query.get("filter", [""])[0]
    if not raw:
        return None
    for predicate in json.loads(raw).get("predicates", []):
        if predicate.get("key") == "display_name" and predicate.get("operation") in (1, "EQUALS"):
            return str(predicate.get("stringValue", predicate.get("string_value")))
    return None


class FakeKfpApi(FakeHttpServer):
    """The KFP v2beta1 calls ``kfp.Client`` makes to upload a pipeline/version and start a run."""

    def __init__(self) -> None:
        super().__init__()
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.experiments: dict[str, dict[str, Any]] = {}
        self._experiments_lock = threading.Lock()
        self.hide_experiments = 0  # answer this many experiment lookups with none found
        self.runs: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}  # version id -> the request body that uploaded it
        self._ids = itertools.count(1)
        base = "/apis/v2beta1"
        self.route("GET", f"{base}/healthz", lambda request: (200, {"multi_user": False}))
        self.route("GET", f"{base}/pipelines", self._list_pipelines)
        self.route("POST", f"{base}/pipelines/upload", self._upload)
        self.route("POST", f"{base}/pipelines/upload_version", self._upload_version)
        self.route("GET", f"{base}/pipelines/(?P<pipeline_id>[^/]+)/versions", self._list_versions)
        self.route("GET", f"{base}/experiments", self._list_experiments)
        self.route("POST", f"{base}/experiments", self._create_experiment)
        self.route("POST", f"{base}/runs", self._create_run)

    def _id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    def _new_version(self, pipeline_id: str, name: str, body: bytes) -> dict[str, Any]:
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": self._id("version"),
            "display_name": name,
            "uploaded_bytes": len(body),
        }
        self.uploads[version["pipeline_version_id"]] = body
        self.versions.setdefault(pipeline_id, []).append(version)
        return version

    def _list_pipelines(self, request: Recorded) -> tuple[int, Any]:
        name = _display_name_filter(request)
        found = [p for p in self.pipelines.values() if name is None or p["display_name"] == name]
        return 200, {"pipelines": found, "total_size": len(found)} if found else {}

    def _upload(self, request: Recorded) -> tuple[int, Any]:
        name = request.query["name"][0]
        pipeline = {"pipeline_id": self._id("pipeline"), "display_name": name}
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        self._new_version(pipeline["pipeline_id"], name, request.body)
        return 200, pipeline

    def _upload_version(self, request: Recorded) -> tuple[int, Any]:
        pipeline_id = request.query["pipelineid"][0]
        return 200, self._new_version(pipeline_id, request.query["name"][0], request.body)

    def _list_versions(self, request: Recorded, pipeline_id: str) -> tuple[int, Any]:
        name = _display_name_filter(request)
        found = [v for v in self.versions.get(pipeline_id, []) if name in (None, v["display_name"])]
        return 200, {"pipeline_versions": found, "total_size": len(found)} if found else {}

    def _list_experiments(self, request: Recorded) -> tuple[int, Any]:
        if self.hide_experiments:  # as if another client made it just after this lookup
            self.hide_experiments -= 1
            return 200, {}
        name = _display_name_filter(request)
        found = [e for e in self.experiments.values() if name in (None, e["display_name"])]
        return 200, {"experiments": found, "total_size": len(found)} if found else {}

    def _create_experiment(self, request: Recorded) -> tuple[int, Any]:
        body = request.json()
        with self._experiments_lock:  # names are unique per namespace, as in KFP's store
            for known in self.experiments.values():
                if (known["display_name"], known.get("namespace")) == (
                    body["display_name"],
                    body.get("namespace"),
                ):
                    return 409, {"code": 6, "message": f"{body['display_name']} already exists"}
            experiment = {**body, "experiment_id": self._id("experiment")}
            self.experiments[experiment["experiment_id"]] = experiment
        return 200, experiment

    def _create_run(self, request: Recorded) -> tuple[int, Any]:
        run = {**request.json(), "run_id": self._id("run"), "state": "PENDING"}
        self.runs.append(run)
        return 200, run
