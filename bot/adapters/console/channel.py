"""The web console as a channel: its pages (``APPROVAL_BOT_CONSOLE``), where people vote in
the browser, and the channel requests are shown in when no chat channel is configured.

The console reads requests from the database, so its chat effects need no delivery: its
handler notes them shown. With ``APPROVAL_BOT_WEBHOOK_URL`` they are forwarded there
instead (no handler of its own, so the webhook's ``*`` takes them).

People are identified by email (``IdentityKind.EMAIL``): the configured local person on
loopback, or the person an authenticating proxy names (``identity.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.adapters.console import SPEC
from bot.adapters.console.identity import DOCS, Gatekeeper
from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.plugin import ChannelBase, Wiring
from bot.domain.errors import ConfigError
from bot.domain.model import ApprovalRequest
from bot.domain.outbox import OutboxItem
from bot.service import Services
from bot.settings import Settings

log = logging.getLogger("bot.console")


class ShownOnThePage:
    """``chat.*`` for the console: the page shows the current state, nothing to push."""

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        return "console shows it"


def gatekeeper(settings: ConsoleSettings) -> Gatekeeper:
    """Who may vote at the console; ConfigError for a proxy setting that cannot work."""
    proxies = settings.proxies()
    if settings.trusted_header and not proxies:
        raise ConfigError(
            "APPROVAL_BOT_CONSOLE_TRUSTED_HEADER is set but APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES "
            f"is not: set the addresses of the authenticating proxy ({DOCS})"
        )
    if proxies and not settings.trusted_header:
        raise ConfigError(
            "APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES is set but APPROVAL_BOT_CONSOLE_TRUSTED_HEADER "
            f"is not: name the header the proxy puts the email in ({DOCS})"
        )
    return Gatekeeper(
        local_email=settings.local_email,
        trusted_header=settings.trusted_header,
        trusted_proxies=proxies,
    )


def voters(settings: ConsoleSettings) -> str:
    """One line for the start-up log: who can vote at the console."""
    ways = []
    if settings.local_email:
        ways.append(f"{settings.local_email} on this machine")
    if settings.trusted_header:
        ways.append(f"{settings.trusted_header} from {settings.trusted_proxies}")
    return ", ".join(ways) or "nobody (read-only)"


class ConsoleChannel(ChannelBase):
    name = SPEC.name

    def __init__(
        self,
        services: Services,
        settings: Settings,
        console: ConsoleSettings,
        *,
        forwarded: bool,
    ) -> None:
        self.services = services
        self.settings = settings
        self.console = console
        self.gatekeeper = gatekeeper(console)
        self.stage: ShownOnThePage | None = None if forwarded else ShownOnThePage()

    def mount(self, app: Any) -> None:
        if not self.console.enabled:
            return
        from bot.adapters.console.pages import RunLinks
        from bot.adapters.console.routes import Console, mount

        settings = self.settings
        kfp_ui = settings.kfp_ui_url or (
            settings.kfp_host if settings.launcher.strip().lower() == "kfp" else None
        )
        mount(
            app,
            Console(
                services=self.services,
                gatekeeper=self.gatekeeper,
                public_url=settings.public_url,
                links=RunLinks(kfp_ui=kfp_ui, local_root=settings.local_pipeline_root),
            ),
        )

    async def start(self) -> None:
        if self.console.enabled:
            log.info("web console at %s; votes: %s", self.settings.public_url, voters(self.console))


def wire(wiring: Wiring) -> None:
    console = wiring.channel_settings(SPEC.name)
    assert isinstance(console, ConsoleSettings)
    settings = wiring.settings
    channel = ConsoleChannel(
        wiring.services, settings, console, forwarded=settings.webhook_url is not None
    )
    wiring.add_channel(channel)
