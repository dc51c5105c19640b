"""The PTB ``Application`` of the channel: its bot (Bot API client, paced), its handlers.

It is made and initialized (``getMe``) on the loop that first needs it: the serving loop
for the server, ``asyncio.run``'s loop for ``approval-bot outbox deliver``. Nothing
connects at import or construction time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.adapters.telegram.pacing import Pacer

log = logging.getLogger("bot.telegram")

App = Application[ExtBot[float], Any, Any, Any, Any, Any]
Setup = Callable[[App], None]


class TelegramApi:
    def __init__(self, token: str, base_url: str, pacer: Pacer, setup: Setup) -> None:
        self._token = token
        self._base_url = base_url
        self.pacer = pacer
        self._setup = setup
        self._app: App | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._init: asyncio.Task[None] | None = None

    def _build(self) -> App:
        app: App = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self._base_url)
            .rate_limiter(self.pacer)
            .updater(None)  # updates come from our webhook route or our own poller
            .connect_timeout(10)
            .read_timeout(10)
            .write_timeout(10)
            .pool_timeout(5)
            .build()
        )
        self._setup(app)
        return app

    @property
    def app(self) -> App:
        """The application made by the last ``ready()`` (for what runs after it)."""
        assert self._app is not None, "TelegramApi.ready() was not awaited"
        return self._app

    @property
    def bot(self) -> ExtBot[float]:
        return self.app.bot

    @property
    def initialized(self) -> bool:
        return self._init is not None and self._init.done() and not _failed(self._init)

    async def ready(self) -> App:
        """The initialized application for this loop (``getMe`` once); raises when Telegram
        cannot be reached, and tries again on the next call."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._app is None:
            self._loop, self._app, self._init = loop, self._build(), None
        if self._init is None or (self._init.done() and _failed(self._init)):
            if self._init is not None:  # a failed start: begin again with a fresh client
                await self._discard()
            self._init = loop.create_task(self._app.initialize())
        await asyncio.shield(self._init)
        return self._app

    async def _discard(self) -> None:
        assert self._app is not None
        try:
            await self._app.bot.shutdown()
        except Exception:
            log.debug("closing a Telegram client that never started", exc_info=True)
        self._app = self._build()

    async def close(self) -> None:
        if self._app is not None and self.initialized and self._loop is asyncio.get_running_loop():
            await self._app.shutdown()
        self._app, self._init, self._loop = None, None, None


def _failed(task: asyncio.Task[None]) -> bool:
    return task.cancelled() or task.exception() is not None
