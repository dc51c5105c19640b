"""Pacing writes to Telegram's flood limits, and honouring ``RetryAfter`` when we hit them.

Telegram allows about 30 messages a second per bot, 20 a minute per group and about one
a second per private chat; past that it answers 429 with ``retry_after``. Every write to
a chat (a call with a ``chat_id``: send, edit) passes through ``Pacer``, the bot's PTB rate
limiter, so the outbox, command answers and prompts share one budget:

- each chat and the bot as a whole have a GCRA schedule (a token bucket without the
  timer, ``bot/domain/pacing.py``): a write takes the next free slot of both, and waits
  for it. The schedule is the bot's, not the process's: the channel keeps it in the
  database (``bot/service/pacing.py``), so two replicas share one group's 20 a minute;
- a 429 blocks that chat for ``retry_after`` seconds (on every replica), and the write is
  tried again after it (at most ``RETRIES`` times); writes already waiting for a slot then
  wait for a new one after the block instead of going out inside it;
- a write whose slot (with the 429s' waits before it) is further away than the caller may
  wait (``rate_limit_args``, in seconds; ``Limits.wait`` otherwise) is not sent at all:
  ``Paced`` is raised, so the outbox tries again later instead of holding a delivery until
  its timeout cuts it (which leaves the delivery unsure whether it posted).

In memory (a ``LocalSchedule``), a slot is reserved without awaiting, so concurrent writes
on the loop queue up in order; in the database, each reservation is one short transaction
in a thread, the lanes locked. Calls without a chat (answering a callback query, getMe,
setWebhook) are not paced, only retried after a 429 when the caller may wait that long; a
429 on one of them holds only later calls of that method, never the writes to chats nor
the other methods (one slow ``setWebhook`` must not silence every tap answer).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.domain.pacing import LocalSchedule, Rate, TooFar

__all__ = ["Limits", "Paced", "Pacer", "Rate", "Schedule", "retry_after_seconds"]

log = logging.getLogger("bot.telegram")

RETRIES = 3

Result = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Limits:
    # Telegram's (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
    bot: Rate = Rate(30, 1.0, burst=5)  # noqa: RUF009 (frozen)
    group: Rate = Rate(20, 60.0, burst=3)  # noqa: RUF009 (frozen)
    private: Rate = Rate(1, 1.0)  # noqa: RUF009 (frozen)
    wait: float = 10.0  # seconds a write may wait for its slot, unless its caller says


class Paced(Exception):
    """The write's slot is later than the caller may wait: try again later."""

    def __init__(self, chat: str, seconds: float) -> None:
        super().__init__(
            f"Telegram flood control: the next write to chat {chat} is {seconds:.1f}s away"
        )
        self.seconds = seconds


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that ints become timedeltas; take either
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _call(endpoint: str) -> str:
    """The key a 429 on a call tied to no chat blocks: that method only."""
    return f"call:{endpoint}"


class Schedule(Protocol):
    """Where the lanes are (``bot/domain/pacing.py``): this process's memory, or the
    database for every replica (``bot/service/pacing.py``)."""

    blocking: bool  # True: it does I/O, and is called in a thread

    def take(
        self, rates: Mapping[str, Rate], *, hold: str, now: float, max_wait: float
    ) -> float: ...
    def hold(self, key: str, until: float) -> None: ...
    def held_until(self, key: str) -> float: ...


class Pacer(BaseRateLimiter[float]):
    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        schedule: Schedule | None = None,
    ) -> None:
        """``schedule``: the chats' and the bot's lanes (this process's by default; shared
        by the replicas, its times must be the same for all: ``clock=time.time``)."""
        self.limits = limits or Limits()
        self.clock = clock
        self.sleep = sleep
        self.schedule: Schedule = schedule or LocalSchedule()
        self.calls = LocalSchedule()  # the holds of calls tied to no chat: this process's
        self.retry_afters = 0  # 429s seen (for logs and tests)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def rate_for(self, chat: str) -> Rate:
        if chat.startswith("-") or chat.startswith("@"):  # groups, supergroups, channels
            return self.limits.group
        return self.limits.private

    def _lanes(self, chat: str | None, endpoint: str) -> tuple[Schedule, dict[str, Rate], str]:
        """The schedule, the keys' rates and the key a 429 holds, for a write to ``chat``
        (or a call of ``endpoint`` tied to no chat: not paced)."""
        if chat is None:
            return self.calls, {}, _call(endpoint)
        return self.schedule, {"*": self.limits.bot, chat: self.rate_for(chat)}, chat

    def reserve(self, chat: str | None, max_wait: float, endpoint: str = "") -> float:
        """Take the next slot for a write to ``chat`` (None: a call of ``endpoint`` tied to
        no chat, not paced); the seconds to wait.

        Raises ``Paced`` (reserving nothing) when that is more than ``max_wait``.
        """
        schedule, rates, hold = self._lanes(chat, endpoint)
        try:
            return schedule.take(rates, hold=hold, now=self.clock(), max_wait=max_wait)
        except TooFar as exc:
            raise Paced(chat or endpoint or "*", exc.seconds) from None

    def block(self, chat: str | None, seconds: float, endpoint: str = "") -> None:
        """A 429: no write to ``chat`` (or, tied to no chat, no call of ``endpoint``) for
        ``seconds``."""
        schedule, _rates, hold = self._lanes(chat, endpoint)
        schedule.hold(hold, self.clock() + seconds)

    def blocked_until(self, chat: str | None, endpoint: str = "") -> float:
        schedule, _rates, hold = self._lanes(chat, endpoint)
        return schedule.held_until(hold)

    async def _off_loop(self, chat: str | None, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, in a thread when the schedule does I/O (the database)."""
        if chat is not None and self.schedule.blocking:
            return await asyncio.to_thread(call, *args)
        return call(*args)

    async def _wait_for_slot(self, chat: str | None, deadline: float, endpoint: str) -> None:
        """Reserve a slot and sleep until it; a 429 that came meanwhile (another write to the
        chat, on any replica, or another call of the endpoint) blocks it past that slot: then
        take a new one, before ``deadline``."""
        wait = await self._off_loop(chat, self.reserve, chat, deadline - self.clock(), endpoint)
        while wait > 0:
            await self.sleep(wait)
            now = self.clock()
            blocked = await self._off_loop(chat, self.blocked_until, chat, endpoint) > now
            wait = (
                await self._off_loop(chat, self.reserve, chat, deadline - now, endpoint)
                if blocked
                else 0.0
            )

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: float | None,
    ) -> Result:
        """The call, after its slot and any 429's ``retry_after``, all within what the
        caller may wait: past that, ``Paced`` (or the ``RetryAfter``) is raised, and nothing
        was sent."""
        max_wait = self.limits.wait if rate_limit_args is None else rate_limit_args
        deadline = self.clock() + max_wait
        chat = str(data["chat_id"]) if data.get("chat_id") is not None else None
        for attempt in range(RETRIES + 1):
            await self._wait_for_slot(chat, deadline, endpoint)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                self.retry_afters += 1
                await self._off_loop(chat, self.block, chat, seconds, endpoint)
                log.warning(
                    "Telegram flood control on %s to chat %s: retry after %gs (attempt %d)",
                    endpoint,
                    chat or "-",
                    seconds,
                    attempt + 1,
                )
                if attempt == RETRIES or self.clock() + seconds > deadline:
                    raise
        raise AssertionError("unreachable")
