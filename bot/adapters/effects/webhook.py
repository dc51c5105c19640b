"""POST every effect as JSON to a URL (APPROVAL_BOT_WEBHOOK_URL), with an Idempotency-Key.

A generic integration point (forward decisions to another system), and the
simplest real protocol to observe deliveries from outside the process.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.domain.model import ApprovalRequest
from bot.domain.outbox import OutboxItem
from bot.ports.effects import PermanentEffectError


class WebhookHandler:
    def __init__(
        self, url: str, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        body: dict[str, Any] = {
            "id": item.id,
            "kind": item.kind,
            "key": item.key,
            "request_id": item.request_id,
            "payload": item.payload,
            "state": request.state.value if request else None,
        }
        resp = await self.client.post(self.url, json=body, headers={"Idempotency-Key": item.key})
        if resp.status_code in (400, 404, 410, 422):
            raise PermanentEffectError(f"webhook answered {resp.status_code}")
        resp.raise_for_status()
        return f"webhook {resp.status_code}"

    async def aclose(self) -> None:
        await self.client.aclose()
