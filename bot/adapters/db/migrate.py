"""Alembic from code: upgrade, and "is this database at head?".

Alembic is imported only to migrate: a serving process checks the schema against
``SCHEMA_HEAD`` with one query (importing Alembic, with every dialect's DDL, would cost
the server 10 MB for that). A test keeps ``SCHEMA_HEAD`` equal to the migrations' head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from bot.adapters.db.engine import make_engine, normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
SCHEMA_HEAD = "0010"  # the newest revision in migrations/versions


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> str:
    from alembic import command

    make_engine(url).dispose()  # creates the SQLite folder when missing
    command.upgrade(alembic_config(url), "head")
    return head_revision()


def head_revision() -> str:
    """The head as the migration scripts say (``SCHEMA_HEAD`` is kept equal to it)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == SCHEMA_HEAD


def readiness_problem(engine: Engine) -> str | None:
    """Why this database cannot serve requests now, or None when it can."""
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        if not at_head(engine):
            return "database is not at the migration head: run `approval-bot migrate`"
    except Exception as exc:  # any database error means not ready
        return f"database unreachable: {type(exc).__name__}"
    return None
