"""Pacing writes to Telegram's flood limits, and honouring ``RetryAfter`` when we hit them.

Telegram allows about 30 messages a second per bot, 20 a minute per group and about one
a second per private chat; past that it answers 429 with ``retry_after``. Every write to
a chat (a call with a ``chat_id``: send, edit) passes through ``Pacer``, the bot's PTB rate
limiter, so the outbox, command answers and prompts share one budget:

- each chat and the bot as a whole have a GCRA schedule (a token bucket without the
  timer): a write takes the next free slot of both, and waits for it;
- a 429 blocks that chat for ``retry_after`` seconds, and the write is tried again after
  it (at most ``RETRIES`` times); writes already waiting for a slot then wait for a new one
  after the block instead of going out inside it;
- a write whose slot is further away than the caller may wait (``rate_limit_args``, in
  seconds; ``Limits.wait`` otherwise) is not sent at all: ``Paced`` is raised, so the
  outbox tries again later (with its backoff) instead of holding a delivery.

Nothing here locks: a slot is reserved without awaiting, so concurrent writes on the
loop queue up in order. Calls without a chat (answering a callback query, getMe,
setWebhook) are not paced, only retried after a 429 when the caller may wait that long; a
429 on one of them holds only later calls of that method, never the writes to chats nor
the other methods (one slow ``setWebhook`` must not silence every tap answer).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger("bot.telegram")

RETRIES = 3

Result = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` writes in any ``per`` seconds, of which ``burst`` may go at once.

    The slots are ``interval`` apart, with ``burst - 1`` of them available early, so a
    window of ``per`` seconds never holds more than ``count``.
    """

    count: int
    per: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return self.per / max(self.count - self.burst, 1)

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


@dataclass(frozen=True, slots=True)
class Limits:
    bot: Rate = Rate(30, 1.0, burst=5)
    group: Rate = Rate(20, 60.0, burst=3)
    private: Rate = Rate(1, 1.0)
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


class Pacer(BaseRateLimiter[float]):
    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self.sleep = sleep
        self._tat: dict[str, float] = {}  # theoretical arrival time, per chat and "*" (the bot)
        self._blocked: dict[str, float] = {}  # a 429 said: not before this time
        self.retry_afters = 0  # 429s seen (for logs and tests)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def rate_for(self, chat: str) -> Rate:
        if chat.startswith("-") or chat.startswith("@"):  # groups, supergroups, channels
            return self.limits.group
        return self.limits.private

    def reserve(self, chat: str | None, max_wait: float, endpoint: str = "") -> float:
        """Take the next slot for a write to ``chat`` (None: a call of ``endpoint`` tied to
        no chat, not paced); the seconds to wait.

        Raises ``Paced`` (reserving nothing) when that is more than ``max_wait``.
        """
        now = self.clock()
        keys = ["*", chat] if chat is not None else []
        start = max(now, self._blocked.get(chat if chat is not None else _call(endpoint), 0.0))
        for key in keys:
            rate = self.limits.bot if key == "*" else self.rate_for(key)
            start = max(start, self._tat.get(key, now) - rate.tolerance)
        wait = start - now
        if wait > max_wait:
            raise Paced(chat or endpoint or "*", wait)
        for key in keys:
            rate = self.limits.bot if key == "*" else self.rate_for(key)
            self._tat[key] = max(self._tat.get(key, now), start) + rate.interval
        return wait

    async def _wait_for_slot(self, chat: str | None, max_wait: float, endpoint: str) -> None:
        """Reserve a slot and sleep until it; a 429 that came meanwhile (another write to the
        chat, or another call of the endpoint) blocks it past that slot: then take a new one,
        within what is left to wait."""
        deadline = self.clock() + max_wait
        key = chat if chat is not None else _call(endpoint)
        wait = self.reserve(chat, max_wait, endpoint)
        while wait > 0:
            await self.sleep(wait)
            now = self.clock()
            blocked = self._blocked.get(key, 0.0) > now
            wait = self.reserve(chat, deadline - now, endpoint) if blocked else 0.0

    def block(self, chat: str | None, seconds: float, endpoint: str = "") -> None:
        """A 429: no write to ``chat`` (or, tied to no chat, no call of ``endpoint``) for
        ``seconds``."""
        key = chat if chat is not None else _call(endpoint)
        self._blocked[key] = max(self._blocked.get(key, 0.0), self.clock() + seconds)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: float | None,
    ) -> Result:
        max_wait = self.limits.wait if rate_limit_args is None else rate_limit_args
        chat = str(data["chat_id"]) if data.get("chat_id") is not None else None
        for attempt in range(RETRIES + 1):
            await self._wait_for_slot(chat, max_wait, endpoint)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                self.retry_afters += 1
                self.block(chat, seconds, endpoint)
                log.warning(
                    "Telegram flood control on %s to chat %s: retry after %gs (attempt %d)",
                    endpoint,
                    chat or "-",
                    seconds,
                    attempt + 1,
                )
                if attempt == RETRIES or seconds > max_wait:
                    raise
        raise AssertionError("unreachable")
