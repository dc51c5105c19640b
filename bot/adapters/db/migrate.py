"""Alembic from code: upgrade, and "is this database at head?"."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from bot.adapters.db.engine import make_engine, normalise_url

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> str:
    make_engine(url).dispose()  # creates the SQLite folder when missing
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    return head_revision()


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


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
