"""Telegram's long polling (``APPROVAL_BOT_TELEGRAM_MODE=polling``), with the offset kept in
the channel's state, by one replica at a time.

Telegram serves one ``getUpdates`` per bot: a second one ends the first with 409 Conflict,
so two pollers take turns failing. The poller holds the database lease ``LEASE`` while it
polls (renewed before every ``getUpdates``); the other replicas stand by, trying every
``STANDBY`` seconds, and one of them takes over when the holder stops (it gives the lease
up) or dies (the lease runs out after ``LEASE_TTL``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError

from bot.adapters.retry import until_done
from bot.adapters.telegram import ids
from bot.adapters.telegram.api import TelegramApi
from bot.adapters.telegram.settings import DOCS
from bot.service.chat.state import ChannelState
from bot.service.leases import Leases

log = logging.getLogger("bot.telegram")
ALLOWED_UPDATES = ["message", "callback_query"]
POLL_TIMEOUT = 30  # seconds a getUpdates long poll waits for updates
STOP_WAIT = 20.0  # seconds a stopping poller may finish the updates it holds
LEASE = "telegram.poller"
LEASE_TTL = timedelta(seconds=POLL_TIMEOUT * 3)  # a poll, its batch, and room to spare
STANDBY = 10.0  # seconds between a standing-by replica's tries to take the lease


def holder_name() -> str:
    """This process, as the lease names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Poller:
    """Long polling with the offset in the database.

    The offset moves past a batch of updates only once all of them were processed, and it
    is stored before the next ``getUpdates`` confirms the batch to Telegram. Stopping
    interrupts a poll that is waiting (Telegram keeps what it did not confirm) but lets
    a batch being processed finish and its offset be stored.
    """

    def __init__(
        self,
        api: TelegramApi,
        state: ChannelState,
        leases: Leases,
        *,
        timeout: int = POLL_TIMEOUT,
    ):
        self.api = api
        self.state = state
        self.leases = leases
        self.holder = holder_name()
        self.leading = False  # holds the lease
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

    async def _lead(self) -> bool:
        """Take (or renew) the lease; when another replica holds it, stand by a while."""
        try:
            taken = await asyncio.to_thread(self.leases.take, LEASE, self.holder, LEASE_TTL)
        except Exception as exc:  # the database is away: nobody can poll safely
            log.warning("the Telegram poller's lease could not be taken: %s", exc)
            taken = False
        if taken != self.leading:
            who = "this replica polls" if taken else "another replica polls; standing by"
            log.info("Telegram getUpdates: %s (lease %s)", who, LEASE)
        self.leading = taken
        if not taken:
            self.waiting = True
            try:
                await asyncio.sleep(STANDBY)
            finally:
                self.waiting = False
        return taken

    async def _run(self) -> None:
        delay = 1.0
        while not self.stopping:
            if not await self._lead():
                continue
            # Read at every poll: the replica that polled before may have moved it.
            offset = await asyncio.to_thread(self.state.get, ids.OFFSET_KEY)
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
            await self._store(updates[-1].update_id + 1)

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
            await self._give_up()
            return  # not polling (yet): nothing to finish
        if self.waiting:
            task.cancel()
        try:
            await asyncio.wait_for(self.done.wait(), timeout=STOP_WAIT)
        except TimeoutError:
            log.warning("Telegram poller did not stop in %.0fs; cancelling it", STOP_WAIT)
            task.cancel()
        await self._give_up()

    async def _give_up(self) -> None:
        """Let a standing-by replica take over now rather than when the lease runs out."""
        if not self.leading:
            return
        self.leading = False
        try:
            await asyncio.to_thread(self.leases.give_up, LEASE, self.holder)
        except Exception as exc:
            log.warning("the Telegram poller's lease was not given up (%s): it runs out", exc)
