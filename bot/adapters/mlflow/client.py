"""The MLflow tracking server's REST API, as the effect handlers use it.

The bot needs eleven calls of MLflow's REST API 2.0 (experiments, runs, model version tags,
registered model aliases). The MLflow SDK would bring them at a price a long-running server
should not pay: importing ``mlflow.tracking`` loads pandas and numpy and adds ~120 MB to
the process, and its heap made every full GC pass a noticeable pause. So this module speaks
the REST API itself with ``httpx`` (blocking: the handlers call it in worker threads).

Credentials are MLflow's own and read on every request, so a rotated secret is picked up
without a restart: ``MLFLOW_TRACKING_TOKEN`` (Bearer), or ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD`` (Basic); TLS follows ``MLFLOW_TRACKING_INSECURE_TLS``,
``MLFLOW_TRACKING_SERVER_CERT_PATH`` and ``MLFLOW_TRACKING_CLIENT_CERT_PATH``. There are no
client-side retries: the outbox retries with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from bot.ports.effects import PermanentEffectError

T = TypeVar("T")
TIMEOUT_SECONDS = 20.0
API = "/api/2.0/mlflow"


class MlflowError(Exception):
    """An error answer: ``error_code`` is MLflow's (``RESOURCE_DOES_NOT_EXIST``, …)."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"MLflow answered {status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message


class CredentialsRefused(RuntimeError):
    """MLflow answered 401/403. Retried (a rotated secret may fix it), dead-lettered if not."""


def is_missing(exc: MlflowError) -> bool:
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or exc.status == 404


def _verify() -> bool | str:
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true"):
        return False
    return os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or True


def _auth_headers() -> dict[str, str]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        secret = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}"
        return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    return {}


class MlflowRest:
    """The calls the decision log and the challenger archive make; blocking."""

    def __init__(self, tracking_uri: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.timeout = timeout
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            cert = os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None
            self._http = httpx.Client(timeout=self.timeout, verify=_verify(), cert=cert)
        return self._http

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self.http.request(
            method,
            f"{self.tracking_uri}{API}/{endpoint}",
            params=params,
            json=body,
            headers=_auth_headers(),
        )
        if response.status_code in (401, 403):
            raise CredentialsRefused(
                f"MLflow at {self.tracking_uri} refused the credentials (check "
                "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN): "
                f"{response.status_code} {response.text[:200]}"
            )
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {"message": response.text[:300]}
        if response.status_code >= 400:
            code = str(answer.get("error_code") or response.status_code)
            raise MlflowError(response.status_code, code, str(answer.get("message", "")))
        return dict(answer)

    # -- experiments ------------------------------------------------------------------

    def get_experiment_by_name(self, name: str) -> dict[str, Any] | None:
        try:
            found = self.call("GET", "experiments/get-by-name", params={"experiment_name": name})
        except MlflowError as exc:
            if is_missing(exc):
                return None
            raise
        return dict(found["experiment"])

    def create_experiment(self, name: str) -> str:
        return str(self.call("POST", "experiments/create", body={"name": name})["experiment_id"])

    def restore_experiment(self, experiment_id: str) -> None:
        self.call("POST", "experiments/restore", body={"experiment_id": experiment_id})

    # -- runs -------------------------------------------------------------------------------

    def search_runs(
        self, experiment_id: str, filter_string: str, *, max_results: int, order_by: list[str]
    ) -> list[dict[str, Any]]:
        body = {
            "experiment_ids": [experiment_id],
            "filter": filter_string,
            "max_results": max_results,
            "order_by": order_by,
        }
        return list(self.call("POST", "runs/search", body=body).get("runs") or [])

    def create_run(
        self, experiment_id: str, *, start_time: int | None, tags: dict[str, str], run_name: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if start_time is not None:
            body["start_time"] = start_time
        return dict(self.call("POST", "runs/create", body=body)["run"])

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: dict[str, float],
        params: dict[str, str],
        tags: dict[str, str],
        timestamp: int,
    ) -> None:
        body = {
            "run_id": run_id,
            "metrics": [
                {"key": k, "value": v, "timestamp": timestamp, "step": 0}
                for k, v in sorted(metrics.items())
            ],
            "params": [{"key": k, "value": v} for k, v in params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        self.call("POST", "runs/log-batch", body=body)

    def set_terminated(self, run_id: str, *, end_time: int | None) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": "FINISHED"}
        if end_time is not None:
            body["end_time"] = end_time
        self.call("POST", "runs/update", body=body)

    # -- the model registry -----------------------------------------------------------------

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self.call("POST", "model-versions/set-tag", body=body)

    def registered_model(self, name: str) -> dict[str, Any]:
        found = self.call("GET", "registered-models/get", params={"name": name})
        return dict(found.get("registered_model") or {})

    def aliases(self, name: str) -> dict[str, str]:
        """alias → version of a registered model."""
        model = self.registered_model(name)
        return {str(a["alias"]): str(a["version"]) for a in model.get("aliases") or []}

    def download_uri(self, name: str, version: str) -> str:
        """Where a version's files are (what ``get_model_version_download_uri`` answers)."""
        found = self.call(
            "GET", "model-versions/get-download-uri", params={"name": name, "version": version}
        )
        return str(found["artifact_uri"])

    def versions(self, name: str, *, limit: int) -> list[str]:
        """The model's newest ``limit`` version numbers, newest first."""
        found = self.call(
            "GET",
            "model-versions/search",
            params={"filter": f"name='{name}'", "max_results": 200},
        )
        numbers = sorted(
            (int(v["version"]) for v in found.get("model_versions") or []), reverse=True
        )
        return [str(n) for n in numbers[:limit]]

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self.call("POST", "registered-models/alias", body=body)

    def delete_alias(self, name: str, alias: str) -> None:
        self.call("DELETE", "registered-models/alias", body={"name": name, "alias": alias})


class Registry:
    """The REST client plus ``run``, which calls it in a worker thread."""

    def __init__(self, tracking_uri: str, *, client: Any = None) -> None:
        self.tracking_uri = tracking_uri
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = MlflowRest(self.tracking_uri)
        return self._client

    async def run(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(client)`` in a worker thread (the dispatcher bounds it with its timeout)."""
        return await asyncio.to_thread(fn, self.client)


def request_of(request: Any, kind: str) -> Any:
    """The request an effect is about; an effect without one can never be delivered."""
    if request is None:
        raise PermanentEffectError(f"{kind}: the approval request no longer exists")
    return request
