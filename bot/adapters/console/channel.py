"""The web console as a channel: its pages (``APPROVAL_BOT_CONSOLE``), and the channel
requests are shown in when no chat channel is configured.

The console reads requests from the database, so its chat effects need no delivery: its
handler notes them shown. With ``APPROVAL_BOT_WEBHOOK_URL`` they are forwarded there
instead (no handler of its own, so the webhook's ``*`` takes them).
"""

from __future__ import annotations

from typing import Any

from bot.adapters.wiring import ChannelBase, Registry
from bot.domain.model import ApprovalRequest
from bot.domain.names import Channel, IdentityKind
from bot.ports import EffectHandler, OutboxItem
from bot.service.queries import Queries


class ShownOnThePage:
    """``chat.*`` for the console: the page shows the current state, nothing to push."""

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        return "console shows it"


class ConsoleChannel(ChannelBase):
    name = Channel.CONSOLE
    identity = IdentityKind.EMAIL

    def __init__(self, queries: Queries, *, pages: bool, forwarded: bool) -> None:
        self.queries = queries
        self.pages = pages
        self.handler: EffectHandler | None = None if forwarded else ShownOnThePage()

    def mount(self, app: Any) -> None:
        if self.pages:
            from bot.adapters.console.pages import mount

            mount(app, self.queries)


def wire(registry: Registry) -> None:
    settings = registry.settings
    registry.add_channel(
        ConsoleChannel(
            registry.services.queries,
            pages=settings.console,
            forwarded=settings.webhook_url is not None,
        )
    )
