"""A rolling upgrade and a rollback: the old release keeps serving a newer release's schema.

The chart migrates the database in a pre-upgrade Job while the old pods still serve it, and
``helm rollback`` starts the old code on the migrated database (docs/architecture.md, "Schema
migrations"). The newer release is played here by what its migration would do: an additive
column and the next revision id in ``alembic_version``.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from bot.adapters.db import make_engine
from bot.adapters.db.migrate import (
    SCHEMA_HEAD,
    SCHEMA_REVISIONS,
    readiness_problem,
    schema_state,
    upgrade,
)
from bot.bootstrap import NotMigrated, check_migrated
from tests import builders
from tests.support.bot_server import prepare_database, running_bot

TOKEN = "bootstrap-token-for-rolling-upgrades-0123"
NEXT = f"{int(SCHEMA_HEAD) + 1:04d}"  # the revision id a newer release's migration gets


def stamp(db_url: str, revision: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def migrate_as_a_newer_release(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE approval_requests ADD COLUMN next_release_note TEXT"))
    finally:
        engine.dispose()
    stamp(db_url, NEXT)


def submit(url: str, run_id: str) -> httpx.Response:
    body = builders.submission(staging_run_id=run_id).model_dump(mode="json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.post(f"{url}/api/v1/approvals", json=body, headers=headers, timeout=30)


def test_the_old_release_stays_ready_on_a_newer_schema_and_starts_on_it(db_url, tmp_path):
    prepare_database(db_url)
    env = {"APPROVAL_BOT_API_TOKEN": TOKEN}
    with running_bot(db_url, tmp_path, env=env, name="old") as old:
        assert submit(old.url, "before-upgrade").status_code == 201

        migrate_as_a_newer_release(db_url)  # the pre-upgrade Job, while the old pods serve

        ready = httpx.get(f"{old.url}/readyz", timeout=30)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert submit(old.url, "during-the-rollout").status_code == 201

    # helm rollback: the old release's migrate (SQLite's init container) and serve, again
    assert upgrade(db_url) == NEXT
    with running_bot(db_url, tmp_path, env=env, name="rolled-back") as rolled_back:
        ready = httpx.get(f"{rolled_back.url}/readyz", timeout=30)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert submit(rolled_back.url, "after-the-rollback").status_code == 201
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert revision == NEXT  # the old release's migrate left the newer schema alone


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        (SCHEMA_REVISIONS[-2], f"older than this release's head {SCHEMA_HEAD}: run `approval"),
        ("3f9a2c1b7d4e", "not one of approval-bot's migrations"),
    ],
)
def test_an_older_or_foreign_schema_is_not_ready_and_refused(db_url, revision, message):
    upgrade(db_url)
    stamp(db_url, revision)
    engine = make_engine(db_url)
    try:
        problem = readiness_problem(engine)
        with pytest.raises(NotMigrated) as refused:
            check_migrated(engine)
    finally:
        engine.dispose()

    assert problem is not None and message in problem and revision in problem
    assert message in str(refused.value)


def test_the_revision_id_tells_newer_from_older_and_unrelated():
    assert schema_state(None) == "empty"
    assert schema_state(SCHEMA_HEAD) == "head"
    assert {schema_state(r) for r in SCHEMA_REVISIONS[:-1]} == {"older"}
    assert schema_state(NEXT) == schema_state("9999") == "newer"
    # not a sequence number above the head: Alembic's random ids, another app's, a typo
    for foreign in ("3f9a2c1b7d4e", "0000", f"{SCHEMA_HEAD}a", "", "10000"):
        assert schema_state(foreign) == "unknown", foreign
