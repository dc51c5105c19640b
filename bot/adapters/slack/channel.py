"""The Slack channel (``wire`` is called by the registry when ``SLACK_BOT_TOKEN`` is set).

- ``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``: ``POST /slack/events`` (HTTP mode).
- ``SLACK_BOT_TOKEN`` + ``SLACK_APP_TOKEN``: Socket Mode, connected at start.
- ``APPROVAL_BOT_SLACK_CHANNEL``: where request messages are posted.

A token without a way to receive clicks, or without a channel to post to, cannot be
served: ``wire`` refuses with one line. Nothing connects here: Bolt calls ``auth.test``
on the first request, and the Socket Mode client is made and connected at start, on the
serving loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from bot.adapters.slack.handler import SlackChatHandler
from bot.adapters.slack.listeners import Deps, register
from bot.adapters.slack.usergroups import UsergroupDirectory
from bot.adapters.wiring import ChannelBase, Registry
from bot.domain.errors import ConfigError
from bot.domain.names import Channel, IdentityKind
from bot.settings import Settings

log = logging.getLogger("bot.slack")
EVENTS_PATH = "/slack/events"
RATE_LIMIT_RETRIES = 3
TIMEOUT_SECONDS = 10
DOCS = "README.md, Connect Slack"


def make_client(settings: Settings, *, posting: bool = False) -> AsyncWebClient:
    """The Web API client: 429s wait ``Retry-After`` and retry; other failures are the outbox's.

    ``posting``: for ``chat.postMessage``, which is not idempotent. A dropped connection or
    a 5xx may come after Slack posted: retrying in the client would post twice. Only 429s
    (Slack did nothing) are retried; the outbox retries the rest, and looks first.
    """
    assert settings.slack_bot_token is not None
    handlers: list[Any] = [AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]
    if not posting:
        handlers = [
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            *handlers,
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ]
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=handlers,
    )


class _SameTokenTwice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it "will be unused" because we give
    it a client: made from that very token. Not worth a warning at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


BOLT_LOG = logging.getLogger("bot.slack.bolt")
BOLT_LOG.addFilter(_SameTokenTwice())


def make_app(settings: Settings, client: AsyncWebClient) -> AsyncApp:
    secret = settings.slack_signing_secret
    return AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        logger=BOLT_LOG,
        # Not a FaaS: answer Slack on ack() and let the listener go on.
        process_before_response=False,
    )


def check(settings: Settings) -> None:
    """Refuse settings that turn Slack on but cannot work."""
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) nor "
            f"SLACK_APP_TOKEN (Socket Mode) is: set one ({DOCS})"
        )
    if not settings.slack_channel:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but APPROVAL_BOT_SLACK_CHANNEL is not: set the id of "
            f"the channel to post requests to ({DOCS})"
        )


class SlackChannel(ChannelBase):
    """Posts and updates request messages, and answers buttons, the modal and /approvals."""

    name = Channel.SLACK
    identity = IdentityKind.SLACK

    def __init__(self, registry: Registry) -> None:
        settings = registry.settings
        check(settings)
        services = registry.services
        client = make_client(settings)
        post_client = make_client(settings, posting=True)
        self.clients = (client, post_client)
        self.session: aiohttp.ClientSession | None = None
        self.handler = SlackChatHandler(
            client,
            services,
            channel_id=settings.slack_channel,
            post_client=post_client,
            lease_seconds=settings.outbox_lease_seconds,
        )
        self.bolt = make_app(settings, client)
        register(
            self.bolt, Deps(services, UsergroupDirectory(client, services.queries), registry.kick)
        )
        self.http = settings.slack_signing_secret is not None
        token = settings.slack_app_token
        self.socket = (
            SocketModeRunner(self.bolt, token.get_secret_value(), client) if token else None
        )

    def mount(self, app: Any) -> None:
        if not self.http:
            return
        handler = AsyncSlackRequestHandler(self.bolt)

        async def slack_events(request: Request) -> Response:
            """Interactivity and the slash command (Bolt checks the signature and its age)."""
            return await handler.handle(request)

        app.add_api_route(EVENTS_PATH, slack_events, methods=["POST"], include_in_schema=False)

    async def start(self) -> None:
        # One connection pool for the serving process: without it the Slack SDK opens
        # (and, against Slack, handshakes TLS on) a new connection for every call.
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        for client in self.clients:
            client.session = self.session
        if self.socket is not None:
            await self.socket.start()

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.stop()
        if self.session is not None:
            for client in self.clients:
                client.session = None
            await self.session.close()
            self.session = None


def wire(registry: Registry) -> None:
    registry.add_channel(SlackChannel(registry))


class SocketModeRunner:
    """Connects at startup (retrying in the background while Slack is unreachable)."""

    def __init__(self, bolt: AsyncApp, app_token: str, client: AsyncWebClient) -> None:
        self.bolt = bolt
        self.app_token = app_token
        self.client = client
        self.handler: AsyncSocketModeHandler | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Made here, on the serving loop: the client binds to the loop it is made on.
        self.handler = AsyncSocketModeHandler(
            self.bolt, self.app_token, web_client=self.client, logger=log
        )
        self.task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        assert self.handler is not None
        delay = 1.0
        while True:
            try:
                await self.handler.connect_async()  # type: ignore[no-untyped-call]
                log.info("Slack Socket Mode connected")
                return
            except Exception as exc:
                log.warning("Slack Socket Mode: cannot connect (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.handler is not None:
            await self.handler.close_async()  # type: ignore[no-untyped-call]
