"""The registry ↔ serving watch: one replica at a time compares what each watched model's
serving serves with what ``@champion`` names, and tells a divergence once (docs/watch.md).

``Watch.check`` is one round, blocking (the server runs it in a worker thread every
``APPROVAL_BOT_WATCH_SECONDS``): it takes the ``serving-watch`` lease (``Leases``) or, while
another replica holds it, does nothing; then for each target it reads both systems (no
transaction open meanwhile) and judges what it saw in one transaction:

- they agree: an open divergence is resolved (``serving_converged``; its alert is updated);
- they differ while the bot promotes the model (a request of it is approved or promoting):
  nothing, the promotion is moving them;
- they differ as the open divergence says: nothing (told once already);
- they differ otherwise: a new divergence (``serving_diverged``, posted to every channel);
  an open one that said something else is resolved first.

At most one divergence per model is open (a unique index): two replicas that both judged
it new store it once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.divergence import Divergence, Observation, WatchTarget
from bot.domain.model import State
from bot.ports.clock import Clock
from bot.ports.serving import Champions, ServedModels, WatchUnavailable
from bot.ports.store import RequestFilter, UnitOfWork, UnitOfWorkFactory
from bot.service.leases import Leases

log = logging.getLogger("bot.watch")

LEASE = "serving-watch"
# Requests in these states mean the bot itself is moving the model's alias and serving.
PROMOTION_STATES = (State.APPROVED, State.PROMOTING)


@dataclass
class WatchReport:
    """What one round did, by model: ``agree``, ``diverged`` (new), ``told`` (already),
    ``promoting``, ``resolved``, or the reason it could not read (``unavailable``)."""

    held_by: str | None = None  # another replica's round: this one did nothing
    outcomes: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def of(self, outcome: str) -> list[str]:
        return sorted(m for m, o in self.outcomes.items() if o == outcome)


class Watch:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        leases: Leases,
        served: ServedModels,
        champions: Champions,
        targets: Sequence[WatchTarget],
        *,
        holder: str,
        every: timedelta,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.leases = leases
        self.served = served
        self.champions = champions
        self.targets = tuple(targets)
        self.holder = holder
        # Held for three rounds: a replica that stops is replaced after that at the latest.
        self.ttl = every * 3

    def check(self) -> WatchReport:
        """One round (see the module docstring)."""
        report = WatchReport()
        if not self.leases.take(LEASE, self.holder, self.ttl):
            report.held_by = self.leases.holder(LEASE) or "another replica"
            return report
        for target in self.targets:
            try:
                seen = self.observe(target)
            except WatchUnavailable as exc:
                report.unavailable[target.model] = str(exc)
                continue
            report.outcomes[target.model] = self.judge(seen)
        return report

    def stop(self) -> None:
        """Give the lease up, so another replica takes the next round at once."""
        self.leases.give_up(LEASE, self.holder)

    def observe(self, target: WatchTarget) -> Observation:
        served = self.served.served(target)
        champion = self.champions.champion(target.model)
        seen = Observation(target, served, champion)
        if not seen.diverged or served.uri is None or self._told(seen):
            return seen
        version = self.champions.version_serving(target.model, served.uri)
        return Observation(target, served, champion, served_version=version)

    def _told(self, seen: Observation) -> bool:
        with self.uow(readonly=True) as uow:
            found = uow.divergences.open_for(seen.target.model)
        return found is not None and found.describes(seen)

    def judge(self, seen: Observation) -> str:
        model = seen.target.model
        with self.uow() as uow:
            now = self.clock.now()
            current = uow.divergences.open_for(model)
            if current is not None:  # locked: what someone asks meanwhile is not overwritten
                current = uow.divergences.get(current.id, for_update=True)
            if not seen.diverged:
                if current is None:
                    return "agree"
                current.resolve(now, "serving and @champion agree again")
                uow.divergences.save(current)
                uow.commit()
                log.info("%s: serving and @champion agree again", model)
                return "resolved"
            if current is not None and current.describes(seen):
                return "told"
            if promoting(uow, model):
                return "promoting"
            if current is not None:
                current.resolve(now, "serving or @champion changed again")
                uow.divergences.save(current)
            found = Divergence.detect(seen, now)
            if not uow.divergences.add(found):
                return "told"  # another replica stored it first
            uow.commit()
        log.warning(
            "%s: %s serves %s, but @champion (v%s) is %s",
            model,
            seen.target.service,
            seen.served.uri or "nothing",
            seen.champion.version or "-",
            seen.champion.uri or "nothing",
        )
        return "diverged"


def promoting(uow: UnitOfWork, model: str) -> bool:
    """Is the bot promoting ``model`` (approved and not launched yet, or running)?"""
    return any(
        uow.requests.search(RequestFilter(state=state, model=model, limit=1))
        for state in PROMOTION_STATES
    )
