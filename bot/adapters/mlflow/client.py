"""One blocking ``MlflowClient`` for the effect handlers, and what its errors mean for the outbox.

Credentials are MLflow's own: ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (or
``MLFLOW_TRACKING_TOKEN``) are read by the client on every request, so a rotated secret is
picked up without a restart.

The outbox retries with backoff, so MLflow's own retries are kept short (``HTTP_DEFAULTS``,
applied with ``setdefault``: an explicit environment value wins). Otherwise one delivery to a
server that is down would sleep through minutes of MLflow's backoff.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVar

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from bot.ports import PermanentEffectError

T = TypeVar("T")

HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def apply_http_defaults() -> None:
    """Short MLflow HTTP retries: the outbox does the patient retrying."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)


class CredentialsRefused(RuntimeError):
    """MLflow answered 401/403. Retried (a rotated secret may fix it), dead-lettered if not."""


def _status(exc: MlflowException) -> int | None:
    try:
        return int(exc.get_http_status_code())  # type: ignore[no-untyped-call]
    except (TypeError, ValueError):
        return None


def explain(exc: MlflowException, uri: str) -> Exception:
    """Translate an MLflow error into what the outbox should do with it."""
    message = str(exc.message if hasattr(exc, "message") else exc)
    text = message.lower()
    if _status(exc) in (401, 403) or "error code 401" in text or "error code 403" in text:
        return CredentialsRefused(
            f"MLflow at {uri} refused the credentials (check MLFLOW_TRACKING_USERNAME / "
            f"MLFLOW_TRACKING_PASSWORD): {message[:200]}"
        )
    return exc


def is_missing(exc: MlflowException) -> bool:
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


class Registry:
    """A lazily created ``MlflowClient`` plus ``run``: call it in a worker thread."""

    def __init__(self, tracking_uri: str, *, client: Any = None) -> None:
        self.tracking_uri = tracking_uri
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    async def run(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(client)`` in a worker thread (the dispatcher bounds it with its timeout)."""
        return await asyncio.to_thread(self._call, fn)

    def _call(self, fn: Callable[[Any], T]) -> T:
        try:
            return fn(self.client)
        except MlflowException as exc:
            translated = explain(exc, self.tracking_uri)
            if translated is exc:
                raise
            raise translated from exc


def request_of(request: Any, kind: str) -> Any:
    """The request an effect is about; an effect without one can never be delivered."""
    if request is None:
        raise PermanentEffectError(f"{kind}: the approval request no longer exists")
    return request
