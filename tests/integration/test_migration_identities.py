"""Migration 0008 (identities as data): the data moves, and the release before it keeps working.

The release before 0008 keeps people's identities in ``people.slack_id``/``telegram_id``/
``email``, a group's Slack user group in ``groups.slack_usergroup`` and Telegram's state in
``telegram_state``. Its pods still serve the database while the pre-upgrade Job migrates it and
after a ``helm rollback`` (docs/architecture.md, "Schema migrations"), so 0008 copies and
never drops; these tests play the old release by the SQL it runs.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from bot.adapters.db import make_engine
from bot.adapters.db import tables as t
from bot.adapters.db.channel_state import SqlChannelStateRepository
from bot.adapters.db.directory import SqlDirectoryRepository
from bot.adapters.db.migrate import MIGRATIONS, alembic_config, upgrade
from bot.domain.model import Person

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _old_release_rows(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO people (name, slack_id, telegram_id, email) VALUES "
            "('alice', 'U0ALICE', 4242, 'Alice@Example.COM'), ('bob', NULL, NULL, NULL)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO groups (name, slack_usergroup) VALUES "
            "('ml-leads', 'S0LEADS'), ('sre', NULL)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO group_members (group_id, person_id) "
            "SELECT g.id, p.id FROM groups g JOIN people p ON "
            "(g.name, p.name) IN (('ml-leads', 'alice'), ('sre', 'bob'))"
        )
    )
    conn.execute(
        text("INSERT INTO telegram_state (key, value, updated_at) VALUES ('offset', '17', :at)"),
        {"at": AT},
    )


def test_upgrade_copies_identities_sources_and_state(db_url):
    command.upgrade(alembic_config(db_url), "0007")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _old_release_rows(conn)
        upgrade(db_url)
        with engine.begin() as conn:
            directory = SqlDirectoryRepository(conn, seen=None).load()  # type: ignore[arg-type]
            offset = SqlChannelStateRepository(conn).get("telegram", "offset")
    finally:
        engine.dispose()

    assert directory.people == (
        Person(
            "alice", (("email", "alice@example.com"), ("slack", "U0ALICE"), ("telegram", "4242"))
        ),
        Person("bob", ()),
    )
    assert {g.name: g.sources for g in directory.groups} == {
        "ml-leads": (("slack_usergroup", "S0LEADS"),),
        "sre": (),
    }
    assert {g.name: g.members for g in directory.groups} == {
        "ml-leads": {"alice"},
        "sre": {"bob"},
    }
    assert offset == 17


def test_the_release_before_keeps_reading_and_writing_its_columns(db_url):
    """During the rollout an old pod applies its config and keeps its polling offset; the new
    code reads the group it inserted (no ``sources``) as one without sources."""
    command.upgrade(alembic_config(db_url), "0007")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _old_release_rows(conn)
        upgrade(db_url)
        with engine.begin() as conn:  # the old release, after the Job ran
            assert (
                conn.execute(text("SELECT slack_id FROM people WHERE name = 'alice'")).scalar()
                == "U0ALICE"
            )
            conn.execute(
                text(
                    "INSERT INTO people (name, slack_id, telegram_id, email) "
                    "VALUES ('carol', 'U0CAROL', 7, 'c@x.io')"
                )
            )
            conn.execute(
                text("INSERT INTO groups (name, slack_usergroup) VALUES ('oncall', 'S0CALL')")
            )
            conn.execute(text("UPDATE telegram_state SET value = '18' WHERE key = 'offset'"))
        with engine.begin() as conn:  # the new release
            directory = SqlDirectoryRepository(conn, seen=None).load()  # type: ignore[arg-type]
    finally:
        engine.dispose()

    groups = {g.name: g.sources for g in directory.groups}
    assert groups["oncall"] == ()
    assert "carol" in {p.name for p in directory.people}


def test_downgrade_writes_the_current_identities_back(db_url):
    command.upgrade(alembic_config(db_url), "0007")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _old_release_rows(conn)
        upgrade(db_url)
        with engine.begin() as conn:  # the new release changes alice's Slack id and the offset
            conn.execute(text("UPDATE person_identities SET value = 'U0NEW' WHERE kind = 'slack'"))
            SqlChannelStateRepository(conn).put("telegram", "offset", 99, AT)
        command.downgrade(alembic_config(db_url), "0007")
        with engine.connect() as conn:
            slack = conn.execute(text("SELECT slack_id FROM people WHERE name = 'alice'")).scalar()
            usergroup = conn.execute(
                text("SELECT slack_usergroup FROM groups WHERE name = 'ml-leads'")
            ).scalar()
            offset = conn.execute(text("SELECT value FROM telegram_state")).scalars().all()
    finally:
        engine.dispose()

    assert (slack, usergroup) == ("U0NEW", "S0LEADS")
    assert [str(v) for v in offset] == ["99"]


def test_migrations_from_0008_on_never_drop_what_a_release_reads():
    """The rule of docs/architecture.md, "Schema migrations", checked on the scripts: an
    ``upgrade()`` adds; it neither drops, renames nor makes a column NOT NULL."""
    forbidden = {"drop_column", "drop_table", "drop_constraint", "rename_table"}
    offenders = []
    for script in sorted(MIGRATIONS.joinpath("versions").glob("*.py")):
        if int(script.name[:4]) < 8:  # written before the rule
            continue
        tree = ast.parse(script.read_text())
        upgrade_fn = next(
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"
        )
        for node in ast.walk(upgrade_fn):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            keywords = {k.arg: k.value for k in node.keywords}
            not_null = name == "alter_column" and (
                "new_column_name" in keywords
                or (
                    isinstance(keywords.get("nullable"), ast.Constant)
                    and keywords["nullable"].value is False  # type: ignore[attr-defined]
                )
            )
            if name in forbidden or not_null:
                offenders.append(f"{script.name}:{node.lineno} {name}")
    assert offenders == []


def test_the_retired_columns_are_declared_and_unused():
    """Declared so that models and migrations agree; nothing in this release uses them."""
    for table, columns in t.RETIRED.items():
        assert table in t.metadata.tables
        assert all(c == "*" or c in t.metadata.tables[table].c for c in columns)
    needles = {f".c.{c}" for columns in t.RETIRED.values() for c in columns if c != "*"}
    needles |= {"retired_telegram_state", '"telegram_state"'}
    package = Path(t.__file__).parents[2]  # bot/
    users = [
        f"{path.relative_to(package)}: {needle}"
        for path in package.rglob("*.py")
        if path.name != "tables.py"
        for needle in needles
        if needle in path.read_text()
    ]
    assert users == []
