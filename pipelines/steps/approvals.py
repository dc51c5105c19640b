"""The approval bot's HTTP API as the pipelines use it (submit gates, read a request).

``APPROVAL_BOT_URL`` and ``APPROVAL_BOT_API_TOKEN`` come from the environment (on a cluster from
the Secret ``mlops-pipeline-secrets``). Transient failures (connection errors, 5xx) are retried a
few times with backoff; client errors (4xx) are not, they will not fix themselves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from pipelines.steps.runtime import require_env

log = logging.getLogger(__name__)

APPROVALS_PATH = "/api/v1/approvals"
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 15.0
ATTEMPTS = 3
BACKOFF_SECONDS = 1.0


class BotRequestError(Exception):
    """The bot could not be reached or answered with an error status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BotClient:
    """Base URL + bearer token of the approval bot."""

    base_url: str
    token: str

    @classmethod
    def from_env(cls) -> BotClient:
        """Read ``APPROVAL_BOT_URL`` and ``APPROVAL_BOT_API_TOKEN`` (both required)."""
        return cls(
            base_url=require_env("APPROVAL_BOT_URL").rstrip("/"),
            token=require_env("APPROVAL_BOT_API_TOKEN"),
        )

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/approvals``; the bot answers 201 (new) or 200 (same staging run again)."""
        return self._request("POST", APPROVALS_PATH, json_body=body)

    def get(self, request_id: str) -> dict[str, Any]:
        """``GET /api/v1/approvals/{id}``."""
        from urllib.parse import quote

        return self._request("GET", f"{APPROVALS_PATH}/{quote(request_id, safe='')}")

    def rollout(self, request_id: str) -> dict[str, Any]:
        """``GET /api/v1/approvals/{id}/rollout``: the control signal of a canary."""
        from urllib.parse import quote

        return self._request("GET", f"{APPROVALS_PATH}/{quote(request_id, safe='')}/rollout")

    def divergence(self, divergence_id: str) -> dict[str, Any]:
        """``GET /api/v1/divergences/{id}``: what a "Deploy the champion" run serves."""
        from urllib.parse import quote

        return self._request("GET", f"/api/v1/divergences/{quote(divergence_id, safe='')}")

    def report_rollout(self, request_id: str, progress: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/approvals/{id}/rollout``: a canary's progress, shown in chat."""
        from urllib.parse import quote

        path = f"{APPROVALS_PATH}/{quote(request_id, safe='')}/rollout"
        return self._request("PUT", path, json_body=progress)

    def _request(
        self, method: str, path: str, *, json_body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        timeout = httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        last_error: BotRequestError | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = httpx.request(
                    method, url, json=json_body, headers=headers, timeout=timeout
                )
            except httpx.HTTPError as error:
                last_error = BotRequestError(f"{method} {url} failed: {error!r}")
            else:
                if response.status_code < 400:
                    payload = response.json()
                    if not isinstance(payload, dict):
                        raise BotRequestError(
                            f"{method} {url}: expected a JSON object, got {payload!r:.200}"
                        )
                    return payload
                last_error = BotRequestError(
                    f"{method} {url} answered {response.status_code}: {response.text[:500]}",
                    status=response.status_code,
                )
                if response.status_code < 500:
                    raise last_error
            if attempt < ATTEMPTS:
                delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
                log.warning(
                    "%s; retrying in %.0fs (attempt %d/%d)", last_error, delay, attempt, ATTEMPTS
                )
                time.sleep(delay)
        assert last_error is not None
        raise last_error
