"""The Slack channel (``wire`` is called by the registry when ``SLACK_BOT_TOKEN`` is set;
its settings are checked before, ``settings.py``).

- ``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``: ``POST /slack/events`` (HTTP mode).
- ``SLACK_BOT_TOKEN`` + ``SLACK_APP_TOKEN``: Socket Mode, connected at start.
- ``APPROVAL_BOT_SLACK_CHANNEL``: where request messages are posted.

A token without a way to receive clicks, or without a channel to post to, cannot be
served: ``SlackSettings.check`` refuses with one line. Nothing connects here: Bolt calls
``auth.test`` on the first request, and the Socket Mode client is made and connected at
start, on the serving loop.
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

from bot.adapters.plugin import ChannelBase, Wiring
from bot.adapters.retry import until_done
from bot.adapters.slack import SPEC
from bot.adapters.slack.listeners import register
from bot.adapters.slack.markup import SOURCE, SlackMarkup
from bot.adapters.slack.settings import SlackSettings
from bot.adapters.slack.transport import SlackTransport, retry_after
from bot.adapters.slack.usergroups import UsergroupDirectory
from bot.service.chat.interactions import Interactions
from bot.service.chat.parse import READS, ROLLOUT
from bot.service.chat.publisher import Publisher

log = logging.getLogger("bot.slack")
EVENTS_PATH = "/slack/events"
RATE_LIMIT_RETRIES = 3
OUTBOX_WAIT_SECONDS = 2.0  # the longest Retry-After the outbox's clients wait out themselves
TIMEOUT_SECONDS = 10
# /approvals: votes are the buttons'; a canary's buttons have commands too
OFFERED = (*READS, "whoami", *ROLLOUT, "help")


class ShortWaits(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 only when its ``Retry-After`` is at most ``longest`` seconds; a longer
    wait goes back to the caller (the outbox, which schedules it: ``SlackRateLimited``)."""

    def __init__(self, longest: float, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.longest = longest

    async def _can_retry_async(self, *, response: Any = None, **kw: Any) -> bool:
        retry = await super()._can_retry_async(response=response, **kw)
        return retry and retry_after(response.headers) <= self.longest


def make_client(
    settings: SlackSettings, *, posting: bool = False, wait_at_most: float | None = None
) -> AsyncWebClient:
    """The Web API client: 429s wait ``Retry-After`` (up to ``wait_at_most``) and retry; other
    failures are the outbox's.

    ``posting``: for ``chat.postMessage``, which is not idempotent. A dropped connection or
    a 5xx may come after Slack posted: retrying in the client would post twice. Only 429s
    (Slack did nothing) are retried; the outbox retries the rest, and looks first.
    """
    assert settings.bot_token is not None
    handlers: list[Any] = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
        if wait_at_most is None
        else ShortWaits(wait_at_most, RATE_LIMIT_RETRIES)
    ]
    if not posting:
        handlers = [
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            *handlers,
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ]
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
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


def make_app(settings: SlackSettings, client: AsyncWebClient) -> AsyncApp:
    secret = settings.signing_secret
    return AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        logger=BOLT_LOG,
        # Not a FaaS: answer Slack on ack() and let the listener go on.
        process_before_response=False,
    )


class SlackChannel(ChannelBase):
    """Posts and updates request messages, and answers buttons, the modal and /approvals."""

    name = SPEC.name

    def __init__(self, wiring: Wiring) -> None:
        settings = wiring.channel_settings(SPEC.name)
        assert isinstance(settings, SlackSettings) and settings.channel is not None
        services = wiring.services
        client = make_client(settings)  # Bolt's: the answers to clicks and commands
        outbox = make_client(settings, wait_at_most=OUTBOX_WAIT_SECONDS)
        post_client = make_client(settings, posting=True, wait_at_most=OUTBOX_WAIT_SECONDS)
        self.clients = (client, outbox, post_client)
        self.session: aiohttp.ClientSession | None = None
        markup = SlackMarkup()
        self.stage = Publisher(
            SPEC.name,
            markup,
            SlackTransport(outbox, post_client, channel_id=settings.channel),
            services.uow,
            lease_seconds=wiring.settings.outbox_lease_seconds,
        )
        usergroups = UsergroupDirectory(client, services.queries)
        chat = Interactions(
            services,
            channel=SPEC.name,
            markup=markup,
            prefix="/approvals ",
            offered=OFFERED,
            vouch=usergroups.groups_of,
            source=SOURCE,
        )
        self.bolt = make_app(settings, client)
        register(self.bolt, chat)
        self.http = settings.signing_secret is not None
        token = settings.app_token
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


def wire(wiring: Wiring) -> None:
    wiring.add_channel(SlackChannel(wiring))


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
        handler = self.handler
        assert handler is not None
        await until_done(handler.connect_async, what="connecting Slack Socket Mode", log=log)
        log.info("Slack Socket Mode connected")

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.handler is not None:
            await self.handler.close_async()  # type: ignore[no-untyped-call]
