"""Database reachability as the process sees it: one warning line per kind of failure while
it lasts, and one line when the database answers again. Requests, scheduler ticks and
deliveries that hit the same outage are counted, not logged one by one."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import exc as sa

log = logging.getLogger("bot.db")


def unavailable_reason(error: BaseException) -> str | None:
    """The one-line reason when ``error`` means the database cannot be used right now
    (unreachable, the connection broken, the pool exhausted, a lock timeout), else None."""
    if isinstance(error, sa.DBAPIError):
        transient = isinstance(error, sa.OperationalError | sa.InterfaceError)
        if not (transient or error.connection_invalidated):
            return None
        orig = error.orig if error.orig is not None else error
    elif isinstance(error, sa.TimeoutError):  # no pooled connection became free
        orig = error
    else:
        return None
    lines = str(orig).strip().splitlines()
    return (lines[0] if lines else type(orig).__name__)[:300]


class StoreHealth:
    """Counts failures by reason; logs the first of each reason and the recovery."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._last_failure = 0.0

    @staticmethod
    def now() -> float:
        """When a unit of work starts (give it back to ``ok``)."""
        return time.monotonic()

    def failed(self, reason: str) -> None:
        with self._lock:
            count = self._failures.get(reason, 0) + 1
            self._failures[reason] = count
            self._last_failure = time.monotonic()
        if count == 1:
            self.log.warning(
                "database unavailable: %s (answering 503 and retrying; further failures "
                "like this one are counted, not logged)",
                reason,
            )

    def ok(self, started: float) -> None:
        """A unit of work that started at ``started`` succeeded: the database is back,
        unless something failed since it started (it may have used an older connection)."""
        if not self._failures:  # the common case, without the lock
            return
        with self._lock:
            if started <= self._last_failure:
                return
            failures, self._failures = self._failures, {}
        if failures:
            total = sum(failures.values())
            self.log.info(
                "the database is reachable again, after %d failed attempt(s) (%s)",
                total,
                "; ".join(failures),
            )

    @property
    def down(self) -> bool:
        return bool(self._failures)
