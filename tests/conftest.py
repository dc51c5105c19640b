"""Shared fixtures: databases (SQLite always; PostgreSQL when reachable, required in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine, normalise_url
from bot.adapters.db.migrate import upgrade
from bot.adapters.registry import identity_kinds
from bot.service import Services, build_services
from tests.fakes import FakeClock, FakeUnitOfWorkFactory

PG_ADMIN_URL = os.environ.get(
    "APPROVAL_BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("APPROVAL_BOT_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    try:
        engine = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any connection failure means "not here"
        msg = (
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); "
            "set APPROVAL_BOT_TEST_POSTGRES_URL or start it "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)"
        )
        if REQUIRE_PG:
            pytest.fail(msg)
        pytest.skip(msg)
    return PG_ADMIN_URL


@contextmanager
def temporary_pg_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"abtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(admin_url)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with temporary_pg_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/approval-bot.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_url(db_url: str) -> str:
    upgrade(db_url)
    return db_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def service(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Services]:
    """The service over the in-memory fakes and over both real databases."""
    if request.param == "memory":
        yield build_services(
            FakeUnitOfWorkFactory(), clock=clock, channels=("console",), identities=identity_kinds()
        )
        return
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    upgrade(url)
    engine = make_engine(url)
    try:
        yield build_services(
            SqlUnitOfWorkFactory(engine),
            clock=clock,
            channels=("console",),
            identities=identity_kinds(),
        )
    finally:
        engine.dispose()
