"""Wire the Slack channel into a Container when its settings are present (called by bootstrap).

- ``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``: ``POST /slack/events`` (HTTP mode).
- ``SLACK_BOT_TOKEN`` + ``SLACK_APP_TOKEN``: Socket Mode, connected in the lifespan.
- ``APPROVAL_BOT_SLACK_CHANNEL``: where request messages are posted (the outbox's
  ``chat:slack`` handler).

Nothing connects here: Bolt calls ``auth.test`` on the first request, and the
Socket Mode client is made and connected at startup, on the serving loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from bot.adapters.slack.handler import CHANNEL, SlackChatHandler
from bot.adapters.slack.listeners import Deps, register
from bot.adapters.slack.usergroups import UsergroupDirectory
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger("bot.slack")
EVENTS_PATH = "/slack/events"
RATE_LIMIT_RETRIES = 3


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: 429s wait ``Retry-After`` and retry; other failures are the outbox's."""
    assert settings.slack_bot_token is not None
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def make_app(settings: Settings, client: AsyncWebClient) -> AsyncApp:
    secret = settings.slack_signing_secret
    return AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        logger=logging.getLogger("bot.slack.bolt"),
        # Not a FaaS: answer Slack on ack() and let the listener go on.
        process_before_response=False,
    )


def wire(container: Container) -> None:
    """Register the chat handler, the HTTP route and the Socket Mode hooks."""
    settings = container.settings
    if settings.slack_bot_token is None:
        return
    http = settings.slack_signing_secret is not None
    socket = settings.slack_app_token is not None
    if not (http or socket):
        log.warning(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP) nor "
            "SLACK_APP_TOKEN (Socket Mode): Slack is off"
        )
        return
    client = make_client(settings)
    service = container.service
    container.dispatcher.handlers[f"chat:{CHANNEL}"] = SlackChatHandler(
        client, service, channel_id=settings.slack_channel
    )
    bolt = make_app(settings, client)
    register(bolt, Deps(service, UsergroupDirectory(client, service), container.kick))
    if http:
        container.mounts.append(http_route(bolt))
    if socket:
        assert settings.slack_app_token is not None
        runner = SocketModeRunner(bolt, settings.slack_app_token.get_secret_value(), client)
        container.startups.append(runner.start)
        container.shutdowns.append(runner.stop)


def http_route(bolt: AsyncApp) -> Any:
    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        """Interactivity and the slash command (Bolt checks the signature and its age)."""
        return await handler.handle(request)

    def mount(app: Any) -> None:
        app.add_api_route(EVENTS_PATH, slack_events, methods=["POST"], include_in_schema=False)

    return mount


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
