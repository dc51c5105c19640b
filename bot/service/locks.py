"""Per-key asyncio locks: one request's message is posted or edited by one delivery at a
time in this process (``bot/service/chat/publisher.py``)."""

from __future__ import annotations

import asyncio
import weakref


class KeyedLocks:
    """``locks(key)`` is the lock of ``key``; it is forgotten once nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock
