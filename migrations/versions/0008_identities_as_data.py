"""Identities and channel state as data: a channel's identity kind, its group source and its
small state need no column, table or migration of their own.

- ``people.slack_id``, ``telegram_id`` and ``email`` become rows of ``person_identities``
  (kind, value), values in their kind's canonical form (emails in lower case);
- ``groups.slack_usergroup`` becomes the group's ``sources`` ({"slack_usergroup": …});
- ``telegram_state`` becomes ``channel_state`` rows of channel ``telegram``.

Additive (docs/architecture.md, "Schema migrations"): the data is copied, and the old
columns and table stay for the release before this one, whose pods still serve the database
during the rolling upgrade and after a ``helm rollback``. This release neither reads nor
writes them; they are dropped two releases on. Identities come from the declarative config,
which every ``serve`` applies at start, so a rolled-back release rewrites its own columns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_IDENTITIES = (("slack", "slack_id"), ("telegram", "telegram_id"), ("email", "email"))


def upgrade() -> None:
    identities = op.create_table(
        "person_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_identities_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_identities")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_person_identities_kind_value")),
    )
    op.create_index(
        op.f("ix_person_identities_person_id"), "person_identities", ["person_id"], unique=False
    )
    conn = op.get_bind()
    people = conn.execute(sa.text("SELECT id, slack_id, telegram_id, email FROM people")).all()
    rows = []
    for person in people:
        for kind, column in OLD_IDENTITIES:
            value = getattr(person, column)
            if value is not None:
                value = str(value).strip()
                rows.append(
                    {
                        "person_id": person.id,
                        "kind": kind,
                        "value": value.lower() if kind == "email" else value,
                    }
                )
    if rows:
        op.bulk_insert(identities, rows)

    op.add_column("groups", sa.Column("sources", sa.JSON(), nullable=True))
    groups = sa.table(
        "groups",
        sa.column("id", sa.Integer()),
        sa.column("slack_usergroup", sa.String()),
        sa.column("sources", sa.JSON()),
    )
    for group in conn.execute(sa.select(groups.c.id, groups.c.slack_usergroup)).all():
        sources = {"slack_usergroup": group.slack_usergroup} if group.slack_usergroup else {}
        conn.execute(groups.update().where(groups.c.id == group.id).values(sources=sources))

    state = op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "key", name=op.f("pk_channel_state")),
    )
    old = sa.table(
        "telegram_state",
        sa.column("key", sa.String()),
        sa.column("value", sa.JSON()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    kept = [
        {"channel": "telegram", "key": r.key, "value": r.value, "updated_at": r.updated_at}
        for r in conn.execute(sa.select(old.c.key, old.c.value, old.c.updated_at)).all()
    ]
    if kept:
        op.bulk_insert(state, kept)


def downgrade() -> None:
    """Copy what this release changed back into the old columns and table, then drop the new."""
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM telegram_state"))
    conn.execute(
        sa.text(
            "INSERT INTO telegram_state (key, value, updated_at) "
            "SELECT key, value, updated_at FROM channel_state WHERE channel = 'telegram'"
        )
    )
    op.drop_table("channel_state")

    groups = sa.table(
        "groups",
        sa.column("id", sa.Integer()),
        sa.column("slack_usergroup", sa.String()),
        sa.column("sources", sa.JSON()),
    )
    for group in conn.execute(sa.select(groups.c.id, groups.c.sources)).all():
        usergroup = (group.sources or {}).get("slack_usergroup")
        conn.execute(
            groups.update().where(groups.c.id == group.id).values(slack_usergroup=usergroup)
        )
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("sources")

    for kind, column in OLD_IDENTITIES:
        value = "CAST(i.value AS BIGINT)" if kind == "telegram" else "i.value"
        conn.execute(
            sa.text(
                f"UPDATE people SET {column} = (SELECT {value} FROM person_identities i "  # noqa: S608
                "WHERE i.person_id = people.id AND i.kind = :kind)"
            ),
            {"kind": kind},
        )
    op.drop_index(op.f("ix_person_identities_person_id"), table_name="person_identities")
    op.drop_table("person_identities")
