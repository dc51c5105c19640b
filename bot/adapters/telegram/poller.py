"""Telegram's long polling (``APPROVAL_BOT_TELEGRAM_MODE=polling``), with the offset kept in
the channel's state."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError

from bot.adapters.retry import until_done
from bot.adapters.telegram import ids
from bot.adapters.telegram.api import TelegramApi
from bot.adapters.telegram.settings import DOCS
from bot.service.chat.state import ChannelState

log = logging.getLogger("bot.telegram")
ALLOWED_UPDATES = ["message", "callback_query"]
POLL_TIMEOUT = 30  # seconds a getUpdates long poll waits for updates
STOP_WAIT = 20.0  # seconds a stopping poller may finish the updates it holds


class Poller:
    """Long polling with the offset in the database.

    The offset moves past a batch of updates only once all of them were processed, and it
    is stored before the next ``getUpdates`` confirms the batch to Telegram. Stopping
    interrupts a poll that is waiting (Telegram keeps what it did not confirm) but lets
    a batch being processed finish and its offset be stored.
    """

    def __init__(self, api: TelegramApi, state: ChannelState, *, timeout: int = POLL_TIMEOUT):
        self.api = api
        self.state = state
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
        offset = await asyncio.to_thread(self.state.get, ids.OFFSET_KEY)
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

        async def store() -> None:
            await asyncio.to_thread(self.state.put, ids.OFFSET_KEY, offset)

        await until_done(store, what="storing the Telegram offset", log=log, cap=30.0)

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
