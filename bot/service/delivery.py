"""Delivering at once after a commit: kicks from any thread, coalesced into passes of the
outbox dispatcher (``bot.service.outbox``), one pass at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from bot.ports import StoreUnavailable

log = logging.getLogger("bot.outbox")


class Deliverer(Protocol):
    async def deliver_due(self) -> Any: ...


class Delivery:
    """Deliver due effects at once after a commit, from any thread, one pass at a time.

    Kicks coalesce: while a pass runs, further kicks ask for one more pass instead of
    starting passes that would only compete for the same rows. Without a serving loop
    (the CLI) a kick does nothing: the server's sweep or ``outbox deliver`` picks the
    rows up.
    """

    def __init__(self, dispatcher: Deliverer) -> None:
        self.dispatcher = dispatcher
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self._delivering = False
        self._again = False

    def kick(self) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn()
        else:
            loop.call_soon_threadsafe(self._spawn)

    def _spawn(self) -> None:
        if self._delivering:
            self._again = True
            return
        self._delivering = True
        task = asyncio.get_running_loop().create_task(self._deliver_until_quiet())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver_until_quiet(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    await self.dispatcher.deliver_due()
                except StoreUnavailable:
                    pass  # logged once by the unit of work; the next sweep retries
                except Exception:
                    log.exception("delivery pass failed; the next sweep retries")
                if not self._again:
                    return
        finally:
            self._delivering = False

    async def drain(self, wait_seconds: float = 20.0) -> None:
        """Wait for deliveries in flight (at shutdown)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=wait_seconds)
