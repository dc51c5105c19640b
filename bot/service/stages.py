"""How the outbox dispatcher delivers one handler's rows: a ``Stage`` reads what a delivery
needs in the transaction that claims the rows, delivers, and writes what the delivery left
behind in the transaction that records its outcome (``bot/service/outbox.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from bot.domain.outbox import OutboxItem
from bot.ports.effects import EffectHandler
from bot.ports.store import UnitOfWork


class Stage(Protocol):
    """How the dispatcher delivers one handler's rows, around its two transactions."""

    def prepare(
        self, uow: UnitOfWork, items: Sequence[OutboxItem], now: datetime
    ) -> dict[int, Any]:
        """In the transaction that claims ``items``: what each delivery needs, by row id
        (a ``DomainError`` as the value fails that delivery)."""
        ...

    async def deliver(self, item: OutboxItem, prepared: Any) -> str | None:
        """The delivery (a short note for the log); raises like an ``EffectHandler``."""
        ...

    def record(self, uow: UnitOfWork, item: OutboxItem, prepared: Any, now: datetime) -> bool:
        """In the transaction that records the outcome: what the delivery leaves behind;
        True when that must survive a database crash (its commit waits for the disk)."""
        ...


class RequestStage:
    """An ``EffectHandler``'s stage: it is given the request the row concerns."""

    def __init__(self, handler: EffectHandler) -> None:
        self.handler = handler

    def prepare(
        self, uow: UnitOfWork, items: Sequence[OutboxItem], now: datetime
    ) -> dict[int, Any]:
        requests = {i.request_id for i in items if i.request_id is not None}
        loaded = {rid: uow.requests.get(rid) for rid in requests}
        return {i.id: loaded.get(i.request_id) if i.request_id else None for i in items}

    async def deliver(self, item: OutboxItem, prepared: Any) -> str | None:
        return await self.handler.deliver(item, prepared)

    def record(self, uow: UnitOfWork, item: OutboxItem, prepared: Any, now: datetime) -> bool:
        return False


def as_stage(handler: EffectHandler | Stage) -> Stage:
    """A stage as is; an ``EffectHandler`` in a ``RequestStage``."""
    if hasattr(handler, "prepare"):
        return cast(Stage, handler)
    return RequestStage(cast(EffectHandler, handler))


@dataclass(frozen=True, slots=True)
class Claimed:
    item: OutboxItem
    stage: Stage | None  # None: nothing here delivers it (it waits)
    prepared: Any
