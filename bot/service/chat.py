"""Where each chat channel shows a request, so later changes update the same message."""

from __future__ import annotations

from typing import Any

from bot.ports import Clock, UnitOfWorkFactory
from bot.service.clock import SystemClock


class ChatMessages:
    def __init__(self, uow: UnitOfWorkFactory, *, clock: Clock | None = None) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()

    def ref(self, request_id: str, channel: str) -> dict[str, Any] | None:
        with self.uow() as uow:
            return uow.chat.get(request_id, channel)

    def save(self, request_id: str, channel: str, ref: dict[str, Any]) -> None:
        with self.uow() as uow:
            uow.chat.put(request_id, channel, ref, self.clock.now())
            uow.commit()
