"""A write schedule shared by every replica: the lanes of ``bot/domain/pacing.py`` in the
database (``send_schedule``), each slot taken in one short transaction.

A platform's rate limits are the bot's, not a process's: two replicas pacing on their own
each sent a Telegram group 20 messages a minute, and Telegram allows 20 in all. Here a
write's slot is taken with the lanes of its keys locked (the chat and the bot as a whole),
so concurrent writers on any replica queue one after the other. Times are seconds since the
epoch (the replicas' clocks agree to well under a slot). Sync, like every use case: the
pacer runs it in a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.pacing import Lane, Rate, held, take_slot
from bot.ports.store import UnitOfWorkFactory


class SharedSchedule:
    blocking = True  # a database transaction: run it in a thread

    def __init__(self, uow: UnitOfWorkFactory, prefix: str) -> None:
        self.uow = uow
        self.prefix = prefix  # the channel's: its keys are "<prefix>:<key>"

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def take(self, rates: Mapping[str, Rate], *, hold: str, now: float, max_wait: float) -> float:
        """Take the next free slot of every key in ``rates`` (past ``hold``'s hold); the
        seconds to wait for it. Raises ``TooFar`` (taking nothing) past ``max_wait``."""
        names = {self._key(k): k for k in (*rates, hold)}
        with self.uow() as uow:
            stored = uow.send_schedule.lock(sorted(names))
            lanes = {names[n]: lane for n, lane in stored.items()}
            wait, changed = take_slot(lanes, rates, hold=hold, now=now, max_wait=max_wait)
            uow.send_schedule.save({self._key(k): lane for k, lane in changed.items()})
            uow.commit()
        return wait

    def hold(self, key: str, until: float) -> None:
        """No write to ``key`` before ``until`` (a 429's retry_after), on any replica."""
        with self.uow() as uow:
            name = self._key(key)
            lane = uow.send_schedule.lock([name]).get(name, Lane())
            uow.send_schedule.save({name: held(lane, until)})
            uow.commit()

    def held_until(self, key: str) -> float:
        with self.uow(readonly=True) as uow:
            return uow.send_schedule.held_until(self._key(key))
