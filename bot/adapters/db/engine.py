"""Engines for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql.dml import OnConflictDoNothing as PostgresqlDoNothing
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite.dml import OnConflictDoNothing as SqliteDoNothing
from sqlalchemy.engine import make_url

READONLY = "approval_bot_readonly"  # execution option: this transaction only reads
DEFAULT_URL = "sqlite:///var/approval-bot.db"
CONNECT_TIMEOUT = 5  # seconds, for PostgreSQL


def normalise_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str = DEFAULT_URL, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 60, "check_same_thread": False},
            **kwargs,
        )
        _sqlite_transactions(engine)
        return engine
    # Room for the API's worker threads, the deliveries and the scheduler at once.
    kwargs = {"pool_size": 20, "max_overflow": 20, **kwargs}
    # A database that does not answer (a dropped network, a hung host) must fail a request
    # in seconds, not hang it: bound the connection attempt unless the URL says otherwise.
    connect_args = {} if "connect_timeout" in u.query else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


# Prebuilt statements. The statements a vote, a submission or a delivery runs are built
# once, at import, with ``bindparam``s for their values (``bot/adapters/db/*.py``, the
# upper-case module names): building a statement and computing its cache key each time cost
# more than running it on SQLite (0.1-0.25 ms a statement, a dozen statements a vote).
# SQLAlchemy keeps the cache key on the statement object, so a reused one skips both.


# The dialects' own ON CONFLICT constructs are never cached (``inherit_cache = False``),
# so each execution compiled the statement again: about as costly as running it. Ours are
# only ever a plain ON CONFLICT DO NOTHING, without a target: the class alone is the whole
# cache key of the clause, and the INSERT's own key covers the rest.
class _PostgresqlDoNothing(PostgresqlDoNothing):
    inherit_cache = True
    _traverse_internals: list[Any] = []  # noqa: RUF012 (SQLAlchemy reads it off the class)


class _SqliteDoNothing(SqliteDoNothing):
    inherit_cache = True
    _traverse_internals: list[Any] = []  # noqa: RUF012 (SQLAlchemy reads it off the class)


class _PostgresqlInsert(PostgresqlInsert):
    inherit_cache = True


class _SqliteInsert(SqliteInsert):
    inherit_cache = True


def insert_ignoring_duplicates(
    conn: Connection, table: Table, returning: tuple[Column[Any], ...] = ()
) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: a row that would break a unique key is skipped
    instead of failing the transaction, on both databases (``returning`` tells which were
    inserted). Give the rows at execution: the statement is then compiled once per process."""
    return _ignoring_duplicates(conn.dialect.name, table, returning)


@functools.cache
def _ignoring_duplicates(dialect: str, table: Table, returning: tuple[Column[Any], ...]) -> Insert:
    # One object per statement: SQLAlchemy keeps its cache key on it (prebuilt, see above).
    stmt: Insert
    if dialect == "postgresql":
        stmt = _PostgresqlInsert(table)
        stmt._post_values_clause = _PostgresqlDoNothing()
    else:
        stmt = _SqliteInsert(table)
        stmt._post_values_clause = _SqliteDoNothing()
    return stmt.returning(*returning) if returning else stmt


def _sqlite_transactions(engine: Engine) -> None:
    """Take the write lock at BEGIN so concurrent deciders queue instead of failing.

    pysqlite's own transaction handling begins lazily and DEFERRED: two writers
    that both read first deadlock on the upgrade. The SQLAlchemy recipe: turn it
    off and emit BEGIN IMMEDIATE ourselves.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process crashing (the log is in the file);
        # only an operating system crash or power loss may lose the last commits, never
        # corrupt the database. FULL would wait for the disk on every commit.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A read-only unit of work reads a snapshot (WAL) without the write lock.
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
