"""The unit of work: one connection, one transaction; only it commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from bot.adapters.db.audit import SqlAuditLog
from bot.adapters.db.chat import SqlChatMessageRepository
from bot.adapters.db.directory import SqlDirectoryRepository
from bot.adapters.db.engine import READONLY
from bot.adapters.db.outbox import SqlOutbox
from bot.adapters.db.requests import SqlRequestRepository
from bot.adapters.db.telegram import SqlTelegramStateRepository
from bot.adapters.db.tokens import SqlTokenRepository


class SqlUnitOfWork:
    requests: SqlRequestRepository
    directory: SqlDirectoryRepository
    audit: SqlAuditLog
    outbox: SqlOutbox
    tokens: SqlTokenRepository
    chat: SqlChatMessageRepository
    telegram: SqlTelegramStateRepository

    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self._conn = self.engine.connect()
        if self.readonly:
            self._conn = self._conn.execution_options(**{READONLY: True})
        self._conn.begin()
        self.requests = SqlRequestRepository(self._conn)
        self.directory = SqlDirectoryRepository(self._conn)
        self.audit = SqlAuditLog(self._conn)
        self.outbox = SqlOutbox(self._conn)
        self.tokens = SqlTokenRepository(self._conn)
        self.chat = SqlChatMessageRepository(self._conn)
        self.telegram = SqlTelegramStateRepository(self._conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside `with`"
        return self._conn

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)
