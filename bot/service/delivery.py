"""Delivering at once after a commit: kicks from any thread, coalesced into passes of the
outbox dispatcher (``bot.service.outbox``), one pass at a time, over the lanes that have
new rows (a vote's commit kicks the chat lane only)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any, Protocol

from bot.ports.store import StoreUnavailable

log = logging.getLogger("bot.outbox")


class Deliverer(Protocol):
    async def deliver_due(self, lanes: Collection[str] | None = None) -> Any: ...


class Delivery:
    """Deliver due effects at once after a commit, from any thread, one pass at a time.

    Kicks coalesce: while a pass runs, further kicks ask for one more pass (over the lanes
    they name) instead of starting passes that would only compete for the same rows.
    Without a serving loop (the CLI) a kick does nothing: the server's sweep or ``outbox
    deliver`` picks the rows up.
    """

    def __init__(self, dispatcher: Deliverer) -> None:
        self.dispatcher = dispatcher
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self._delivering = False
        self._lanes: set[str] | None = set()  # for the next pass; None: all of them

    def kick(self, lanes: Collection[str] | None = None) -> None:
        """Deliver what is due in ``lanes`` (all lanes when None) now, from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn(lanes)
        else:
            loop.call_soon_threadsafe(self._spawn, lanes)

    def _spawn(self, lanes: Collection[str] | None) -> None:
        if self._lanes is not None:
            self._lanes = None if lanes is None else self._lanes | set(lanes)
        if self._delivering:
            return
        self._delivering = True
        task = asyncio.get_running_loop().create_task(self._deliver_until_quiet())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver_until_quiet(self) -> None:
        try:
            while self._lanes is None or self._lanes:
                lanes, self._lanes = self._lanes, set()
                try:
                    await self.dispatcher.deliver_due(lanes)
                except StoreUnavailable:
                    pass  # logged once by the unit of work; the next sweep retries
                except Exception:
                    log.exception("delivery pass failed; the next sweep retries")
        finally:
            self._delivering = False

    async def drain(self, wait_seconds: float = 20.0) -> None:
        """Wait for deliveries in flight (at shutdown)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=wait_seconds)
