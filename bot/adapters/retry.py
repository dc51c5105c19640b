"""Trying again until it works: what a channel connects to at start, and what it must not
lose (where a long poll stopped). Waits 1, 2, 4… seconds, at most ``cap``, logging each
failure once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until_done(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    log: logging.Logger,
    cap: float = 60.0,
    fatal: tuple[type[BaseException], ...] = (),
) -> T:
    """``attempt()``'s result, trying again after any failure but a ``fatal`` one."""
    delay = 1.0
    while True:
        try:
            return await attempt()
        except fatal:
            raise
        except Exception as exc:
            log.warning("%s failed (%s); retrying in %.0fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)
