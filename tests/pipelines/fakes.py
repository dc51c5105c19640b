"""A real-protocol fake on 127.0.0.1 for the pipelines' approval bot.

Kubernetes and KServe: tests/pipelines/kube_fake.py; KFP: tests/adapters/kfp_fake.py.
"""

from __future__ import annotations

import copy
import itertools
import threading
from typing import Any

from pydantic import ValidationError

from bot.domain import errors
from bot.service.commands import checked_pictures
from bot.service.schemas import SubmissionIn
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
        # a canary's control and progress, as bot/entrypoints/http/rollouts.py answers them
        self.route("GET", r"/api/v1/approvals/(?P<request_id>[^/]+)/rollout", self._rollout)
        self.route("PUT", r"/api/v1/approvals/(?P<request_id>[^/]+)/rollout", self._progress)
        self.controls: dict[str, tuple[str, str]] = {}  # request id → (signal, by)
        self.progress: dict[str, list[dict[str, Any]]] = {}

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
        try:  # the bot's own checks: the schema, then each picture's bytes
            checked_pictures(SubmissionIn.model_validate(body))
        except (ValidationError, errors.InvalidRequest) as exc:
            return 422, {"error": "validation_error", "message": str(exc)}
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

    def _rollout(self, request: Recorded, request_id: str) -> tuple[int, Any]:
        if not self._authorized(request):
            return 401, {"detail": "missing or invalid token"}
        with self._state_lock:
            if request_id not in self.approvals:
                return 404, {"detail": f"approval request {request_id} not found"}
            control, by = self.controls.get(request_id, ("run", None))
            state = self.approvals[request_id]["state"]
            progress = (self.progress.get(request_id) or [{}])[-1]
        body = {"request_id": request_id, "state": state, "control": control}
        return 200, {**body, "control_by": by, "progress": progress}

    def _progress(self, request: Recorded, request_id: str) -> tuple[int, Any]:
        if not self._authorized(request):
            return 401, {"detail": "missing or invalid token"}
        with self._state_lock:
            if self.approvals.get(request_id, {}).get("state") != "promoting":
                return 409, {"detail": f"request {request_id} is not promoting"}
            self.progress.setdefault(request_id, []).append(request.json())
        return self._rollout(request, request_id)
