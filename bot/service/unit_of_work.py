"""The unit of work records what happened: at commit, the events of every domain object its
repositories handed out or took in go to the audit log, with the effects they cause in the
outbox, in the same transaction (``Recorder``). No use case writes the audit log itself.

``RecordingUnitOfWork`` is the base of every unit of work (the database's, the tests'
in-memory one); ``Recorder`` is installed on the factory by ``build_services``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.domain.effects import Effect, effects_of, one_update_each
from bot.domain.events import Aggregate, Event
from bot.ports.clock import Clock
from bot.ports.store import EventRecorder, UnitOfWork


def lane(kind: str) -> str:
    """The outbox lane of an effect kind: the system it reaches (``chat``, ``mlflow``…)."""
    return kind.split(".", 1)[0]


class Recorder:
    """Writes the events of one transaction, with the effects they cause, before it commits."""

    def __init__(self, clock: Clock, channels: tuple[str, ...]) -> None:
        self.clock = clock
        self.channels = channels  # where messages about requests go
        self.on_commit: Callable[[frozenset[str]], None] | None = None  # deliver these lanes

    def record(self, uow: UnitOfWork, aggregates: Sequence[Aggregate]) -> frozenset[str]:
        """One statement each, effects first: appending to the hash chain takes the log's one
        lock, which every writer waits for until this transaction commits, so it comes last."""
        entries: list[tuple[str | None, Event]] = []
        effects: list[Effect] = []
        for aggregate in aggregates:
            events = list(aggregate.events)
            aggregate.events.clear()
            entries += [(aggregate.subject, ev) for ev in events]
            effects += [e for ev in events for e in effects_of(aggregate, ev, self.channels)]
        if not entries:
            return frozenset()
        now = self.clock.now()
        effects = one_update_each(effects)
        if effects:
            uow.outbox.add(effects, now)
        uow.audit.append_all(entries, now)
        return frozenset(lane(e.kind) for e in effects)

    def committed(self, lanes: frozenset[str]) -> None:
        if lanes and self.on_commit is not None:
            self.on_commit(lanes)


class RecordingUnitOfWork:
    """Tracks the aggregates its repositories see (``track``) and records their events when
    it commits. Subclasses open the transaction and implement ``_commit``."""

    recorder: EventRecorder | None

    def __init__(self, recorder: EventRecorder | None = None) -> None:
        self.recorder = recorder
        self._seen: dict[int, Aggregate] = {}

    def track(self, aggregate: Any) -> None:
        """``aggregate``'s events are recorded when this unit of work commits."""
        self._seen[id(aggregate)] = aggregate

    def forget(self, aggregate: Any) -> None:
        """``aggregate`` was not written after all (a conditional save lost): its events
        are not recorded."""
        self._seen.pop(id(aggregate), None)

    def commit(self) -> None:
        seen, self._seen = list(self._seen.values()), {}
        lanes: frozenset[str] = frozenset()
        if self.recorder is not None and seen:
            lanes = self.recorder.record(self, seen)  # type: ignore[arg-type]
        self._commit()
        if lanes and self.recorder is not None:
            self.recorder.committed(lanes)

    def rollback(self) -> None:
        self._seen = {}
        self._rollback()

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError
