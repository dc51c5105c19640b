"""The unit of work over SQLAlchemy: one connection, one transaction; only it commits, and
at commit it records the events of what its repositories saw
(``bot/service/unit_of_work.py``).

A database that cannot be used (unreachable, connection broken) surfaces as
``StoreUnavailable`` with one line, whatever the driver raised, and is reported to the
``StoreHealth`` of the process (one log line per kind of failure).
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from sqlalchemy import Connection, Engine

from bot.adapters.db.audit import SqlAuditLog
from bot.adapters.db.channel_state import SqlChannelStateRepository
from bot.adapters.db.chat import SqlChatMessageRepository
from bot.adapters.db.directory import SqlDirectoryRepository
from bot.adapters.db.divergences import SqlDivergenceRepository
from bot.adapters.db.engine import READONLY
from bot.adapters.db.evidence import SqlEvidenceRepository
from bot.adapters.db.health import StoreHealth, unavailable_reason
from bot.adapters.db.leases import SqlLeaseRepository
from bot.adapters.db.outbox import SqlOutbox
from bot.adapters.db.refusals import SqlRefusalLog
from bot.adapters.db.requests import SqlRequestRepository
from bot.adapters.db.send_schedule import SqlSendScheduleRepository
from bot.adapters.db.tokens import SqlTokenRepository
from bot.domain.audit_keys import Keyring
from bot.ports.store import EventRecorder, StoreUnavailable
from bot.service.unit_of_work import RecordingUnitOfWork


class SqlUnitOfWork(RecordingUnitOfWork):
    requests: SqlRequestRepository
    directory: SqlDirectoryRepository
    audit: SqlAuditLog
    refusals: SqlRefusalLog
    outbox: SqlOutbox
    tokens: SqlTokenRepository
    chat: SqlChatMessageRepository
    channel_state: SqlChannelStateRepository
    divergences: SqlDivergenceRepository
    leases: SqlLeaseRepository
    send_schedule: SqlSendScheduleRepository

    def __init__(
        self,
        engine: Engine,
        health: StoreHealth | None = None,
        *,
        readonly: bool = False,
        recorder: EventRecorder | None = None,
        audit_keys: Keyring | None = None,
    ) -> None:
        super().__init__(recorder)
        self.engine = engine
        self.health = health or StoreHealth()
        self.readonly = readonly
        self.audit_keys = audit_keys
        self._conn: Connection | None = None
        self._started = 0.0

    def __enter__(self) -> SqlUnitOfWork:
        self._started = self.health.now()
        try:
            self._conn = self.engine.connect()
            if self.readonly:
                self._conn = self._conn.execution_options(**{READONLY: True})
            self._conn.begin()
        except Exception as exc:
            if self._conn is not None:
                self._close_quietly()
            self._raise_if_unavailable(exc)
            raise
        conn = self._conn
        self.requests = SqlRequestRepository(conn, self)
        self.directory = SqlDirectoryRepository(conn, self)
        self.audit = SqlAuditLog(conn, self.audit_keys)
        self.refusals = SqlRefusalLog(conn)
        self.outbox = SqlOutbox(conn, self)
        self.tokens = SqlTokenRepository(conn, self)
        self.chat = SqlChatMessageRepository(conn)
        self.channel_state = SqlChannelStateRepository(conn)
        self.divergences = SqlDivergenceRepository(conn, self)
        self.leases = SqlLeaseRepository(conn)
        self.send_schedule = SqlSendScheduleRepository(conn)
        self.evidence = SqlEvidenceRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        if exc is None:
            try:
                if self._conn.in_transaction():
                    self._conn.rollback()
                self._conn.close()
            except Exception as error:
                self._close_quietly()
                self._raise_if_unavailable(error)
                raise
            self._conn = None
            self.health.ok(self._started)
            return
        self._close_quietly()  # the connection may be broken: its rollback can fail too
        self._raise_if_unavailable(exc)

    def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # A broken connection's rollback and close fail too: nothing more to tell.
        with contextlib.suppress(Exception):
            if conn.in_transaction():
                conn.rollback()
        with contextlib.suppress(Exception):
            conn.close()

    def _raise_if_unavailable(self, exc: BaseException) -> None:
        reason = unavailable_reason(exc)
        if reason is not None:
            self.health.failed(reason)
            raise StoreUnavailable(f"the database is unavailable: {reason}") from exc

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside `with`"
        return self._conn

    def _commit(self) -> None:
        self.connection.commit()

    def _rollback(self) -> None:
        self.connection.rollback()


class SqlUnitOfWorkFactory:
    """Units of work on ``engine``; the audit log signs with ``audit_keys``' current key."""

    def __init__(
        self,
        engine: Engine,
        health: StoreHealth | None = None,
        *,
        audit_keys: Keyring | None = None,
    ) -> None:
        self.engine = engine
        self.health = health or StoreHealth()
        self.audit_keys = audit_keys
        self.recorder: EventRecorder | None = None  # installed by ``build_services``

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            self.health,
            readonly=readonly,
            recorder=self.recorder,
            audit_keys=self.audit_keys,
        )
