"""The Telegram channel (``wire`` is called by the registry when ``TELEGRAM_BOT_TOKEN`` is set).

- ``APPROVAL_BOT_TELEGRAM_CHAT_ID``: where request messages are posted (required).
- ``APPROVAL_BOT_TELEGRAM_MODE=webhook`` (the default): updates arrive at
  ``POST /telegram/webhook`` with ``X-Telegram-Bot-Api-Secret-Token`` =
  ``APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET`` (required; anything else is answered 403 and
  not processed); ``setWebhook`` is called at start when ``APPROVAL_BOT_PUBLIC_URL`` is set.
  Any number of replicas can serve it.
- ``APPROVAL_BOT_TELEGRAM_MODE=polling``: one process long-polls ``getUpdates``, keeping
  the offset in the database, so a restart neither loses nor repeats an update. Telegram
  serves one poller per bot: run one replica.

Settings that turn Telegram on but cannot work are refused by ``wire`` with one line.
Nothing connects here: the client is made and ``getMe`` called at start (retrying in the
background while Telegram cannot be reached) or on the first delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError

from bot.adapters.telegram import ids
from bot.adapters.telegram.api import App, TelegramApi
from bot.adapters.telegram.handler import TelegramChatHandler
from bot.adapters.telegram.listeners import Deps, register
from bot.adapters.telegram.pacing import Limits, Pacer
from bot.adapters.wiring import ChannelBase, Registry
from bot.domain.errors import ConfigError
from bot.domain.names import Channel, IdentityKind
from bot.service.chat import ChatMessages
from bot.settings import Settings

log = logging.getLogger("bot.telegram")
DOCS = "README.md, Connect Telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "callback_query"]
LIMITS = Limits()  # Telegram's flood limits (the tests scale them down)
POLL_TIMEOUT = 30  # seconds a getUpdates long poll waits for updates
STOP_WAIT = 20.0  # seconds a stopping poller may finish the updates it holds
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_CHAT = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}")


def check(settings: Settings) -> None:
    """Refuse settings that turn Telegram on but cannot work."""
    chat = settings.telegram_chat_id
    if not chat:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is set but APPROVAL_BOT_TELEGRAM_CHAT_ID is not: set the id "
            f"of the chat to post requests to ({DOCS})"
        )
    if not _CHAT.fullmatch(chat.strip()):
        raise ConfigError(
            f"APPROVAL_BOT_TELEGRAM_CHAT_ID: {chat[:40]!r} is not a chat id (a number such as "
            f"-1001234567890, or @channelname) ({DOCS})"
        )
    secret = settings.telegram_webhook_secret
    if settings.telegram_mode == "webhook":
        if secret is None:
            raise ConfigError(
                "APPROVAL_BOT_TELEGRAM_MODE is webhook (the default) but "
                "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET is not set: set it, or set "
                f"APPROVAL_BOT_TELEGRAM_MODE=polling ({DOCS})"
            )
        if not _SECRET.fullmatch(secret.get_secret_value()):
            raise ConfigError(
                "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET: use 1-256 characters of A-Z, a-z, "
                f"0-9, _ and - (Telegram's rule) ({DOCS})"
            )


def webhook_url(settings: Settings) -> str | None:
    """Where Telegram should send updates: only when APPROVAL_BOT_PUBLIC_URL was set."""
    if "public_url" not in settings.model_fields_set:
        return None
    return settings.public_url.rstrip("/") + WEBHOOK_PATH


class TelegramChannel(ChannelBase):
    """Posts and edits request messages; answers taps, commands and reject reasons."""

    name = Channel.TELEGRAM
    identity = IdentityKind.TELEGRAM

    def __init__(self, registry: Registry) -> None:
        settings = registry.settings
        check(settings)
        assert settings.telegram_bot_token is not None
        assert settings.telegram_chat_id is not None
        services = registry.services
        deps: Deps

        def setup(app: App) -> None:
            register(app, deps)

        self.pacer = Pacer(LIMITS)
        self.api = TelegramApi(
            settings.telegram_bot_token.get_secret_value(),
            settings.telegram_api_url,
            self.pacer,
            setup,
        )
        deps = Deps(services, self.api, registry.kick)
        self.handler = TelegramChatHandler(
            self.api,
            services,
            chat_id=settings.telegram_chat_id.strip(),
            lease_seconds=settings.outbox_lease_seconds,
        )
        self.polling = settings.telegram_mode == "polling"
        secret = settings.telegram_webhook_secret
        self.secret = secret.get_secret_value() if secret is not None else None
        self.webhook_url = webhook_url(settings)
        self.poller = Poller(self.api, services.chat) if self.polling else None
        self.task: asyncio.Task[None] | None = None

    def mount(self, app: Any) -> None:
        if self.polling:
            return
        app.add_api_route(WEBHOOK_PATH, self.webhook, methods=["POST"], include_in_schema=False)

    async def webhook(self, request: Request) -> Response:
        """An update from Telegram: processed before the 200, so none is lost in a crash."""
        assert self.secret is not None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return JSONResponse(
                {"error": "forbidden", "message": f"missing or wrong {SECRET_HEADER}"},
                status_code=403,
            )
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse(
                {"error": "bad_request", "message": "the body is not JSON"}, status_code=400
            )
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return JSONResponse(
                {"error": "bad_request", "message": "not a Telegram update (no update_id)"},
                status_code=400,
            )
        try:
            app = await self.api.ready()
        except (TelegramError, OSError) as exc:
            log.warning("Telegram update %s not processed: %s", data["update_id"], exc)
            # Telegram delivers it again later.
            return JSONResponse(
                {"error": "unavailable", "message": "Telegram is not reachable yet"},
                status_code=503,
            )
        try:
            update = Update.de_json(data, app.bot)
        except Exception:
            log.warning("Telegram update %s could not be read", data["update_id"], exc_info=True)
            return JSONResponse(
                {"error": "bad_request", "message": "not a Telegram update"}, status_code=400
            )
        await app.process_update(update)
        return Response(status_code=200)

    async def start(self) -> None:
        self.task = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        """getMe (retrying while Telegram is unreachable), then setWebhook or polling."""
        delay = 1.0
        while True:
            try:
                app = await self.api.ready()
                if self.poller is not None:
                    await app.bot.delete_webhook()  # getUpdates refuses while one is set
                elif self.webhook_url is not None:
                    await self._set_webhook(app, self.webhook_url)
                break
            except InvalidToken:
                log.error("Telegram rejected TELEGRAM_BOT_TOKEN: Telegram stays off (%s)", DOCS)
                return
            except Exception as exc:
                log.warning("Telegram: cannot connect (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        log.info(
            "Telegram connected as @%s (%s mode)",
            app.bot.username,
            "polling" if self.polling else "webhook",
        )
        if self.poller is not None:
            await self.poller.run()

    async def _set_webhook(self, app: App, url: str) -> None:
        if not url.startswith("https://"):
            log.warning(
                "APPROVAL_BOT_PUBLIC_URL is not https, and Telegram only calls https webhooks: "
                "not calling setWebhook (%s)",
                DOCS,
            )
            return
        await app.bot.set_webhook(url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES)
        log.info("Telegram webhook set to %s", url)

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.api.close()


def wire(registry: Registry) -> None:
    registry.add_channel(TelegramChannel(registry))


class Poller:
    """Long polling with the offset in the database.

    The offset moves past a batch of updates only once all of them were processed, and it
    is stored before the next ``getUpdates`` confirms the batch to Telegram. Stopping
    interrupts a poll that is waiting (Telegram keeps what it did not confirm) but lets
    a batch being processed finish and its offset be stored.
    """

    def __init__(self, api: TelegramApi, chat: ChatMessages, *, timeout: int = POLL_TIMEOUT):
        self.api = api
        self.chat = chat
        self.timeout = timeout
        self.stopping = False
        self.waiting = False  # in getUpdates: stopping may interrupt it
        self.done = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    async def run(self) -> None:
        self.task = asyncio.current_task()
        try:
            await self._run()
        finally:
            self.done.set()

    async def _run(self) -> None:
        offset = await asyncio.to_thread(self.chat.telegram_state, ids.OFFSET_KEY)
        delay = 1.0
        while not self.stopping:
            self.waiting = True
            try:
                updates = await self.api.bot.get_updates(
                    offset=offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES
                )
            except InvalidToken:
                log.error("Telegram rejected TELEGRAM_BOT_TOKEN: polling stops (%s)", DOCS)
                return
            except (TelegramError, OSError) as exc:
                hint = " (another process polls this bot, or a webhook is set)" * isinstance(
                    exc, Conflict
                )
                log.warning("getUpdates failed: %s%s; retrying in %.0fs", exc, hint, delay)
                self.waiting = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            finally:
                self.waiting = False
            delay = 1.0
            if not updates:
                continue
            await self._process(updates)
            offset = updates[-1].update_id + 1
            await self._store(offset)

    async def _process(self, updates: tuple[Update, ...]) -> None:
        app = self.api.app
        results = await asyncio.gather(
            *(app.process_update(u) for u in updates), return_exceptions=True
        )
        for update, result in zip(updates, results, strict=True):
            if isinstance(result, BaseException):
                log.error("Telegram update %s failed: %r", update.update_id, result)

    async def _store(self, offset: int) -> None:
        """Keep the offset before asking for more (which confirms the batch to Telegram)."""
        delay = 1.0
        while True:
            try:
                await asyncio.to_thread(self.chat.save_telegram_state, ids.OFFSET_KEY, offset)
                return
            except Exception as exc:
                log.warning("cannot store the Telegram offset (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        self.stopping = True
        task = self.task
        if task is None or self.done.is_set():
            return  # not polling (yet): nothing to finish
        if self.waiting:
            task.cancel()
        try:
            await asyncio.wait_for(self.done.wait(), timeout=STOP_WAIT)
        except TimeoutError:
            log.warning("Telegram poller did not stop in %.0fs; cancelling it", STOP_WAIT)
            task.cancel()
