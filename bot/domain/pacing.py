"""Pacing writes to a platform's rate limits: GCRA (a token bucket without the timer).

Each key (a chat, or the bot as a whole) has a theoretical arrival time (``tat``): a write
takes the next free slot of every key it counts against, at most ``burst - 1`` slots early,
and pushes each key's ``tat`` one ``interval`` on. A key may also be held (a 429's
``retry_after``) until ``held_until``. Pure: where the lanes are kept (in memory, or in the
database for every replica, ``bot/service/pacing.py``) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` writes in any ``per`` seconds, of which ``burst`` may go at once.

    The slots are ``interval`` apart, with ``burst - 1`` of them available early, so a
    window of ``per`` seconds never holds more than ``count``.
    """

    count: int
    per: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return self.per / max(self.count - self.burst, 1)

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


@dataclass(frozen=True, slots=True)
class Lane:
    """One key's schedule: its next write's theoretical arrival time, and a hold."""

    tat: float = 0.0
    held_until: float = 0.0


class TooFar(Exception):
    """The next free slot is further than the caller may wait; nothing was taken."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the next slot is {seconds:.1f}s away")
        self.seconds = seconds


def take_slot(
    lanes: Mapping[str, Lane],
    rates: Mapping[str, Rate],
    *,
    hold: str,
    now: float,
    max_wait: float,
) -> tuple[float, dict[str, Lane]]:
    """The next slot free in every key of ``rates`` and past ``hold``'s hold: (seconds to
    wait for it, the lanes that change). Raises ``TooFar`` past ``max_wait``."""
    start = max(now, lanes.get(hold, Lane()).held_until)
    for key, rate in rates.items():
        start = max(start, lanes.get(key, Lane(tat=now)).tat - rate.tolerance)
    wait = start - now
    if wait > max_wait:
        raise TooFar(wait)
    changed = {}
    for key, rate in rates.items():
        lane = lanes.get(key, Lane(tat=now))
        changed[key] = Lane(max(lane.tat, start) + rate.interval, lane.held_until)
    return wait, changed


def held(lane: Lane, until: float) -> Lane:
    """``lane`` held until ``until`` at least (a 429)."""
    return Lane(lane.tat, max(lane.held_until, until))


class LocalSchedule:
    """The lanes in this process's memory: what one process sends (and chat-less calls)."""

    blocking = False  # nothing here waits for I/O: call it on the event loop

    def __init__(self) -> None:
        self.lanes: dict[str, Lane] = {}

    def take(self, rates: Mapping[str, Rate], *, hold: str, now: float, max_wait: float) -> float:
        wait, changed = take_slot(self.lanes, rates, hold=hold, now=now, max_wait=max_wait)
        self.lanes.update(changed)
        return wait

    def hold(self, key: str, until: float) -> None:
        self.lanes[key] = held(self.lanes.get(key, Lane()), until)

    def held_until(self, key: str) -> float:
        return self.lanes.get(key, Lane()).held_until
