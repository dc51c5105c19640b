"""What the chat channels keep in the database: where each shows a request, and the little a
channel must remember across restarts and replicas (its ``ChannelState``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.ports.chat import Ref
from bot.ports.clock import Clock
from bot.ports.store import UnitOfWorkFactory
from bot.service.clock import SystemClock

SEEN_FOR = timedelta(days=1)  # platforms redeliver an update for far less than that
PRUNE_EVERY = 500  # inbound updates between two prunings


class ChannelState:
    """One channel's small JSON values, by key (e.g. where its long poll stopped)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, channel: str) -> None:
        self.uow = uow
        self.clock = clock
        self.channel = channel
        self._seen = 0

    def get(self, key: str) -> Any | None:
        with self.uow(readonly=True) as uow:
            return uow.channel_state.get(self.channel, key)

    def put(self, key: str, value: Any) -> None:
        with self.uow() as uow:
            uow.channel_state.put(self.channel, key, value, self.clock.now())
            uow.commit()

    def first_seen(self, update: str, *, keep: timedelta = SEEN_FOR) -> bool:
        """Note the inbound ``update``; False when it was noted before (a redelivery). Every
        ``PRUNE_EVERY`` calls, the ones older than ``keep`` are forgotten."""
        now = self.clock.now()
        with self.uow() as uow:
            first = uow.channel_state.first_seen(self.channel, update, now)
            self._seen += 1
            if self._seen % PRUNE_EVERY == 1:
                uow.channel_state.forget_seen(self.channel, now - keep)
            uow.commit()
        return first

    def unsee(self, update: str) -> None:
        with self.uow() as uow:
            uow.channel_state.unsee(self.channel, update)
            uow.commit()

    def drop(self, key: str) -> bool:
        """Forget ``key``; False when it was not there."""
        with self.uow() as uow:
            dropped = uow.channel_state.delete(self.channel, key)
            uow.commit()
        return dropped


class ChatMessages:
    def __init__(self, uow: UnitOfWorkFactory, *, clock: Clock | None = None) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()

    def ref(self, request_id: str, channel: str) -> Ref | None:
        """Where ``channel`` shows the request; None until it is posted."""
        with self.uow(readonly=True) as uow:
            return uow.chat.get(request_id, channel)

    def move(self, channel: str, field: str, old: Any, new: Any) -> int:
        """The chat ``old`` is ``new`` now (a group became a supergroup): every
        message of ``channel`` there is found under the new id, the open divergences' alerts
        too (docs/watch.md; a resolved one is never updated again); how many."""
        with self.uow() as uow:
            moved = uow.chat.move(channel, field, old, new)
            for found in uow.divergences.open_all():
                ref = found.refs.get(channel)
                if isinstance(ref, dict) and ref.get(field) == old:
                    found.refs[channel] = {**ref, field: new}
                    uow.divergences.save(found)
                    moved += 1
            uow.commit()
        return moved

    def state(self, channel: str) -> ChannelState:
        return ChannelState(self.uow, self.clock, channel)
