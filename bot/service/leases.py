"""Named leases: work that one replica at a time must do (a periodic watch, a long poll).

A holder takes a lease for a while and renews it before it runs out; another replica takes
it once it has expired (its holder stopped or lost the database). Sync, like every use
case: async callers run these in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from datetime import timedelta

from bot.ports.clock import Clock
from bot.ports.store import UnitOfWorkFactory


class Leases:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def take(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Hold ``name`` for ``ttl`` from now (or renew it); False while another holds it."""
        if ttl <= timedelta(0):
            raise ValueError(f"a lease is taken for a positive time, not {ttl}")
        now = self.clock.now()
        with self.uow() as uow:
            taken = uow.leases.take(name, holder, until=now + ttl, now=now)
            uow.commit()
        return taken

    def give_up(self, name: str, holder: str) -> None:
        """Free ``name`` now if ``holder`` holds it, so that another takes it at once."""
        with self.uow() as uow:
            uow.leases.give_up(name, holder)
            uow.commit()

    def holder(self, name: str) -> str | None:
        with self.uow(readonly=True) as uow:
            return uow.leases.holder(name, now=self.clock.now())
