"""The KFP v2beta1 run API on top of the pipelines' upload fake: enough for the launcher.

``kfp.Client`` calls: ``GET /healthz`` (no namespace given), ``GET /pipelines?filter=`` and
``GET /pipelines/{id}/versions``, ``GET/POST /experiments``, ``POST /runs``,
``GET /runs?filter=`` and ``GET /runs/{id}``. Tests move runs along with ``set_state``.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from tests.pipelines.fakes import FakeKfpApi, _display_name_filter
from tests.support.http_fake import Recorded

BASE = "/apis/v2beta1"


class FakeKfpRuns(FakeKfpApi):
    def __init__(self, pipeline: str = "iris-promotion") -> None:
        super().__init__()
        self._runs_lock = threading.Lock()
        self.route("GET", f"{BASE}/runs", self._list_runs)
        self.route("GET", f"{BASE}/runs/(?P<run_id>[^/]+)", self._get_run)
        pipeline_id = self._id("pipeline")
        self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "display_name": pipeline}
        self.version = self._new_version(pipeline_id, f"{pipeline}-v1", b"")
        self.pipeline_id = pipeline_id

    @property
    def created(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == f"{BASE}/runs"]

    def set_state(self, run_id: str, state: str, error: str | None = None) -> None:
        with self._runs_lock:
            [run] = [r for r in self.runs if r["run_id"] == run_id]
            run["state"] = state
            if error:
                run["error"] = {"code": 2, "message": error}

    def _list_runs(self, request: Recorded) -> tuple[int, Any]:
        name = _display_name_filter(request)
        with self._runs_lock:
            found = [copy.deepcopy(r) for r in self.runs if name in (None, r["display_name"])]
        return 200, {"runs": found, "total_size": len(found)} if found else {}

    def _get_run(self, request: Recorded, run_id: str) -> tuple[int, Any]:
        with self._runs_lock:
            for run in self.runs:
                if run["run_id"] == run_id:
                    return 200, copy.deepcopy(run)
        return 404, {"code": 5, "message": f"run {run_id} not found"}
