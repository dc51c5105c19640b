"""Alembic from code: upgrade, and "can this code serve this database?".

Alembic is imported only to migrate: a serving process checks the schema against
``SCHEMA_REVISIONS`` with one query (importing Alembic, with every dialect's DDL, would cost
the server 10 MB for that). A test keeps ``SCHEMA_REVISIONS`` equal to the migrations' chain.

A rolling upgrade migrates the database (the chart's pre-upgrade Job) while the old pods still
serve, and ``helm rollback`` starts the old code on the migrated database. Migrations are
additive (docs/architecture.md, "Schema migrations"), so code serves a database at its own head
or at a newer one. The old code cannot read the newer scripts; it tells "newer" from "older"
or "unrelated" by the revision ids, which are zero-padded sequence numbers (``0008`` follows
``0007``; a test checks every script's id): an id in this code's chain below the head is
older, a sequence number above the head is newer, anything else is not one of ours.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine, inspect, text

from bot.adapters.db.engine import make_engine, normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
# Every revision in migrations/versions, oldest first; the last one is this code's head.
SCHEMA_REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
    "0017",
    "0018",
)
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]
REVISION_ID = re.compile(r"[0-9]{4}")  # how every revision is named (docs/architecture.md)

SchemaState = Literal["empty", "older", "head", "newer", "unknown"]


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> str:
    """Upgrade to this code's head and return the database's revision: a database that a
    newer release already migrated is left as it is (Alembic cannot find its revision)."""
    from alembic import command

    engine = make_engine(url)  # creates the SQLite folder when missing
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    if current is not None and schema_state(current) == "newer":
        return current
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


def schema_state(revision: str | None) -> SchemaState:
    """Where a database at ``revision`` stands against this code (module docstring)."""
    if revision is None:
        return "empty"
    if revision == SCHEMA_HEAD:
        return "head"
    if revision in SCHEMA_REVISIONS:
        return "older"
    if REVISION_ID.fullmatch(revision) and revision > SCHEMA_HEAD:
        return "newer"
    return "unknown"


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == SCHEMA_HEAD


def schema_problem(revision: str | None) -> str | None:
    """Why this code cannot serve a database at ``revision`` ("the database …" follows), or
    None when it can: at its head, or at a newer release's (migrations are additive)."""
    state = schema_state(revision)
    if state in ("head", "newer"):
        return None
    if state == "empty":
        return "has no schema yet: run `approval-bot migrate`"
    if state == "older":
        return (
            f"is at migration {revision}, older than this release's head {SCHEMA_HEAD}: "
            "run `approval-bot migrate`"
        )
    return (
        f"is at revision {revision}, which is not one of approval-bot's migrations: "
        "is it the bot's database?"
    )


def readiness_problem(engine: Engine) -> str | None:
    """Why this database cannot serve requests now, or None when it can."""
    try:
        revision = current_revision(engine)
    except Exception as exc:  # any database error means not ready
        return f"database unreachable: {type(exc).__name__}"
    problem = schema_problem(revision)
    return None if problem is None else f"the database {problem}"
