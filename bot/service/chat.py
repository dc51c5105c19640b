"""Where each chat channel shows a request, so later changes update the same message; and
the little a channel must remember across restarts and replicas (Telegram's update offset
and its reject prompts)."""

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

    # -- Telegram's state ------------------------------------------------------------

    def telegram_state(self, key: str) -> Any | None:
        with self.uow() as uow:
            return uow.telegram.get(key)

    def save_telegram_state(self, key: str, value: Any) -> None:
        with self.uow() as uow:
            uow.telegram.put(key, value, self.clock.now())
            uow.commit()

    def drop_telegram_state(self, key: str) -> bool:
        with self.uow() as uow:
            dropped = uow.telegram.delete(key)
            uow.commit()
        return dropped
