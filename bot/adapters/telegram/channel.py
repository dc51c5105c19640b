"""The Telegram channel (``wire`` is called by the registry when ``TELEGRAM_BOT_TOKEN`` is set;
its settings are checked before, ``settings.py``).

- ``APPROVAL_BOT_TELEGRAM_CHAT_ID``: where request messages are posted (required).
- ``APPROVAL_BOT_TELEGRAM_MODE=webhook`` (the default): updates arrive at
  ``POST /telegram/webhook`` with ``X-Telegram-Bot-Api-Secret-Token`` =
  ``APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET`` (required; anything else is answered 403 and
  not processed); ``setWebhook`` is called at start when ``APPROVAL_BOT_PUBLIC_URL`` is set.
  Any number of replicas can serve it.
- ``APPROVAL_BOT_TELEGRAM_MODE=polling``: one process long-polls ``getUpdates``, keeping
  the offset in the database, so a restart neither loses nor repeats an update. Telegram
  serves one poller per bot: the replicas take turns by a lease in the database
  (``poller.py``), the others standing by.

Settings that turn Telegram on but cannot work are refused with one line
(``TelegramSettings.check``).
Nothing connects here: the client is made and ``getMe`` called at start (retrying in the
background while Telegram cannot be reached) or on the first delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram.error import InvalidToken, TelegramError

from bot.adapters.plugin import ChannelBase, Wiring
from bot.adapters.retry import until_done
from bot.adapters.telegram import SPEC, ids
from bot.adapters.telegram.api import App, TelegramApi
from bot.adapters.telegram.listeners import Deps, register
from bot.adapters.telegram.markup import TelegramMarkup
from bot.adapters.telegram.pacing import Limits, Pacer
from bot.adapters.telegram.poller import ALLOWED_UPDATES, Poller
from bot.adapters.telegram.settings import DOCS, TelegramSettings
from bot.adapters.telegram.transport import TelegramTransport, chat_ref
from bot.adapters.telegram.updates import Malformed, Seen, parse_body, read_update
from bot.service.chat.interactions import Interactions
from bot.service.chat.publisher import Publisher
from bot.service.pacing import SharedSchedule
from bot.settings import Settings

log = logging.getLogger("bot.telegram")
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
LIMITS = Limits()  # Telegram's flood limits (the tests scale them down)


def webhook_url(settings: Settings) -> str | None:
    """Where Telegram should send updates: only when APPROVAL_BOT_PUBLIC_URL was set (it is
    the core's setting)."""
    if "public_url" not in settings.model_fields_set:
        return None
    return settings.public_url.rstrip("/") + WEBHOOK_PATH


class TelegramChannel(ChannelBase):
    """Posts and edits request messages; answers taps, commands and reject reasons."""

    name = SPEC.name

    def __init__(self, wiring: Wiring) -> None:
        settings = wiring.channel_settings(SPEC.name)
        assert isinstance(settings, TelegramSettings)
        assert settings.bot_token is not None and settings.chat_id is not None
        services = wiring.services
        deps: Deps

        def setup(app: App) -> None:
            register(app, deps)

        # The flood limits are the bot's: every replica paces against the same schedule.
        schedule = SharedSchedule(services.uow, SPEC.name)
        self.pacer = Pacer(LIMITS, clock=time.time, schedule=schedule)
        self.api = TelegramApi(
            settings.bot_token.get_secret_value(), settings.api_url, self.pacer, setup
        )
        markup = TelegramMarkup()
        self.state = state = services.chat.state(SPEC.name)
        self.messages = services.chat
        self.configured = settings.chat_id.strip()
        self.stale: str | None = None  # the configured chat id moved (a supergroup now)
        self.transport = TelegramTransport(self.api, chat_id=self.configured, on_moved=self._moved)
        interactions = Interactions(services, channel=SPEC.name, markup=markup)
        deps = Deps(interactions, self.api, state, self.transport.moved)
        self.stage = Publisher(
            SPEC.name,
            markup,
            self.transport,
            services.uow,
            lease_seconds=wiring.settings.outbox_lease_seconds,
        )
        self.polling = settings.mode == "polling"
        secret = settings.webhook_secret
        self.secret = secret.get_secret_value() if secret is not None else None
        self.webhook_url = webhook_url(wiring.settings)
        self.poller = Poller(self.api, state, services.leases) if self.polling else None
        self.seen = Seen(state)
        self.task: asyncio.Task[None] | None = None

    async def _moved(self, old: int | str, new: int) -> None:
        """Group ``old`` became supergroup ``new``: its messages are found there now (stored
        for every replica), and a configured ``old`` is reported as stale."""
        moved = await asyncio.to_thread(self.messages.move, SPEC.name, "chat_id", old, new)
        await asyncio.to_thread(self.state.put, ids.moved_key(old), new)
        log.warning("Telegram chat %s is supergroup %s now: %d message(s) moved", old, new, moved)
        self._note_stale(old, new)

    def _note_stale(self, old: int | str, new: int) -> None:
        if str(old) != self.configured or self.stale is not None:
            return
        self.stale = (
            f"APPROVAL_BOT_TELEGRAM_CHAT_ID={old} is stale: that group became supergroup {new}, "
            f"where requests are posted now; set APPROVAL_BOT_TELEGRAM_CHAT_ID={new} ({DOCS})"
        )
        log.error("%s", self.stale)

    async def _follow_moves(self) -> None:
        """At start: a move another replica (or an earlier run) saw."""
        new = await asyncio.to_thread(self.state.get, ids.moved_key(self.configured))
        if isinstance(new, int):
            if self.transport.chat_id == chat_ref(self.configured):
                self.transport.chat_id = new
            self._note_stale(self.configured, new)

    def warnings(self) -> list[str]:
        """What works but needs the operator's attention (``/readyz`` shows it)."""
        return [self.stale] if self.stale else []

    def mount(self, app: Any) -> None:
        if self.polling:
            return
        app.add_api_route(WEBHOOK_PATH, self.webhook, methods=["POST"], include_in_schema=False)

    async def webhook(self, request: Request) -> Response:
        """An update from Telegram: processed before the 200, so none is lost in a crash;
        once per ``update_id`` (Telegram sends it again when our answer is slow); a
        malformed one is answered 200 with one warning line (``updates.py``)."""
        assert self.secret is not None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return JSONResponse(
                {"error": "forbidden", "message": f"missing or wrong {SECRET_HEADER}"},
                status_code=403,
            )
        try:
            data = parse_body(await request.body())
        except Malformed as exc:
            log.warning("Telegram webhook: ignored a body: %s", exc)
            return Response(status_code=200)
        update_id = data["update_id"]
        try:
            app = await self.api.ready()
        except (TelegramError, OSError) as exc:
            log.warning("Telegram update %s not processed: %s", update_id, exc)
            # Telegram delivers it again later.
            return JSONResponse(
                {"error": "unavailable", "message": "Telegram is not reachable yet"},
                status_code=503,
            )
        try:
            update = read_update(data, app.bot)
        except Malformed as exc:
            log.warning("Telegram update %s ignored: %s", update_id, exc)
            return Response(status_code=200)
        if not await self.seen.first(str(update_id)):
            log.info("Telegram update %s again: processed already", update_id)
            return Response(status_code=200)
        try:
            await app.process_update(update)
        except BaseException:
            await self.seen.forget(str(update_id))  # a redelivery processes it
            raise
        return Response(status_code=200)

    async def start(self) -> None:
        self.task = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        """getMe (retrying while Telegram is unreachable), then setWebhook or polling."""
        try:
            app = await until_done(
                self._connect_once, what="connecting Telegram", log=log, fatal=(InvalidToken,)
            )
        except InvalidToken:
            log.error("Telegram rejected TELEGRAM_BOT_TOKEN: Telegram stays off (%s)", DOCS)
            return
        log.info(
            "Telegram connected as @%s (%s mode)",
            app.bot.username,
            "polling" if self.polling else "webhook",
        )
        if self.poller is not None:
            await self.poller.run()

    async def _connect_once(self) -> App:
        await self._follow_moves()
        app = await self.api.ready()
        if self.poller is not None:
            await app.bot.delete_webhook()  # getUpdates refuses while one is set
        elif self.webhook_url is not None:
            await self._set_webhook(app, self.webhook_url)
        return app

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


def wire(wiring: Wiring) -> None:
    wiring.add_channel(TelegramChannel(wiring))
