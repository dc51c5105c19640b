"""The stand-in for an effect system that is not configured: logs what would have happened."""

from __future__ import annotations

import logging

from bot.domain.model import ApprovalRequest
from bot.ports import OutboxItem

log = logging.getLogger("bot.effects")


class LoggingHandler:
    """Stands in for a system that is not configured: logs what would have happened."""

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        what = (
            f"{request.model_name} v{request.model_version} [{request.state.value}]"
            if request
            else "-"
        )
        log.info("effect %s for %s (no handler configured: logged only)", item.kind, what)
        return "logged"
