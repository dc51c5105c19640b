"""``mlflow.alias_back``: move ``@champion`` back to the version serving serves, as a person
asked about a divergence the serving watch raised (docs/watch.md, ``bot/service/watch_actions.py``).

Only while ``@champion`` still names the version the divergence saw: if someone moved it since,
it is left alone (and the watch judges what it names now). Idempotent: a second delivery
finds it moved already.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.mlflow.client import Registry
from bot.domain.model import ApprovalRequest
from bot.domain.outbox import OutboxItem

CHAMPION = "champion"


class AliasBack:
    def __init__(self, mlflow: Registry) -> None:
        self.mlflow = mlflow

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        payload = dict(item.payload)
        return await self.mlflow.run(lambda client: self.move(client, payload))

    @staticmethod
    def move(client: Any, payload: dict[str, Any]) -> str:
        model, version = str(payload["model"]), str(payload["version"])
        expected = payload.get("champion")
        current = client.aliases(model).get(CHAMPION)
        if current == version:
            return f"{model}'s @champion names v{version} already"
        if current != (str(expected) if expected is not None else None):
            return f"left alone: {model}'s @champion names v{current} now, not v{expected}"
        client.set_alias(model, CHAMPION, version)
        return f"{model}'s @champion moved back to v{version}, the served version"
