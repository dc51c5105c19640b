"""``mlflow.archive_challenger``: take a rejected (or expired) challenger out of the queue.

Only while ``@challenger`` still points at the request's version: a newer challenger that was
registered meanwhile must not lose its alias because of an old decision. MLflow aliases are
not compare-and-swap, so this is check-then-act; the window is one round trip.

Order matters for retries: the target alias (``@rejected`` / ``@archived``) is set first and
``@challenger`` deleted second, so an attempt cut off in between is finished by the next one
(which still finds ``@challenger`` on the version), and a finished one is recognised and left
alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.adapters.mlflow.client import MlflowError, MlflowRest, Registry, is_missing, request_of
from bot.domain.effects import ARCHIVE_CHALLENGER
from bot.domain.model import ApprovalRequest
from bot.domain.outbox import OutboxItem
from bot.ports.effects import PermanentEffectError


@dataclass(frozen=True, slots=True)
class AliasNames:
    challenger: str = "challenger"
    rejected: str = "rejected"
    archived: str = "archived"

    def target(self, payload_alias: str) -> str:
        """The configured name for the payload's ``rejected`` / ``archived``."""
        names = {"rejected": self.rejected, "archived": self.archived}
        if payload_alias not in names:
            raise PermanentEffectError(
                f"{ARCHIVE_CHALLENGER}: unknown alias {payload_alias!r} in the effect payload"
            )
        return names[payload_alias]


class ChallengerArchive:
    """Effect handler for ``mlflow.archive_challenger``.

    ``on_moved_on(request_id, data)`` is told when the challenger had moved on and nothing was
    touched (the service records it in the audit log).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        aliases: AliasNames | None = None,
        on_moved_on: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.registry = registry
        self.aliases = aliases or AliasNames()
        self.on_moved_on = on_moved_on

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        req = request_of(request, ARCHIVE_CHALLENGER)
        target = self.aliases.target(str(item.payload.get("alias", "archived")))
        moved, note = await self.registry.run(
            lambda client: self._archive(client, req.model_name, req.model_version, target)
        )
        if moved is not None and self.on_moved_on is not None:
            await asyncio.to_thread(self.on_moved_on, req.id, moved)
        return note

    def _archive(
        self, client: MlflowRest, model: str, version: str, target: str
    ) -> tuple[dict[str, Any] | None, str]:
        challenger = self.aliases.challenger
        try:
            aliases = client.aliases(model)
        except MlflowError as exc:
            if is_missing(exc):
                raise PermanentEffectError(
                    f"{ARCHIVE_CHALLENGER}: model {model!r} is not in the MLflow registry"
                ) from exc
            raise
        current = aliases.get(challenger)
        if current != version:
            if aliases.get(target) == version:
                return None, f"{model} v{version} is already @{target}"
            moved = {
                "model_name": model,
                "model_version": version,
                "alias": challenger,
                "now_points_at": current,
                "wanted": target,
            }
            where = f"v{current}" if current else "on no version"
            return moved, (
                f"challenger moved on: @{challenger} is {where}, not v{version}; "
                "aliases left untouched"
            )
        client.set_alias(model, target, version)
        client.delete_alias(model, challenger)
        return None, f"{model} v{version}: @{challenger} removed, @{target} set"
