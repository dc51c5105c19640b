"""Engines for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, bindparam, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

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


def insert_ignoring_duplicates(
    table: Table, columns: Sequence[str], returning: Sequence[str] = ()
) -> TextClause | TextualSelect:
    """``INSERT … ON CONFLICT DO NOTHING``: a row that would break a unique key is skipped
    instead of failing the transaction, on both databases (``returning`` tells which were
    inserted). Give the rows (``columns``, by name) at execution.

    Written as text, once, with the columns' types bound: SQLite and PostgreSQL spell it
    alike, and a text statement is cached like any other, where the dialects' own ON CONFLICT
    constructs are not cached at all (each execution compiled its INSERT again, about as
    costly as running it). Build it at import, as a module-level constant."""
    for name in (table.name, *columns, *returning):  # names, not values: ours, checked
        assert name.isidentifier(), name
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f":{c}" for c in columns)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({values}) ON CONFLICT DO NOTHING'  # noqa: S608
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    stmt = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    return stmt.columns(*(table.c[c] for c in returning)) if returning else stmt


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
