"""The registry ↔ serving watch: the divergences it saw (docs/watch.md).

Additive (docs/architecture.md, "Schema migrations"): one new table, which the release
before this one never reads, and a nullable column, policies.rollback_groups (who is
authorized like a rollback; NULL: the approver groups), which it never writes or reads.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "divergences",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("open_model", sa.String(length=200), nullable=True),
        sa.Column("service", sa.String(length=300), nullable=False),
        sa.Column("served_uri", sa.Text(), nullable=True),
        sa.Column("served_version", sa.String(length=64), nullable=True),
        sa.Column("champion_version", sa.String(length=64), nullable=True),
        sa.Column("champion_uri", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("refs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_divergences")),
        sa.UniqueConstraint("open_model", name=op.f("uq_divergences_open_model")),
    )
    op.create_index(op.f("ix_divergences_model"), "divergences", ["model"], unique=False)
    op.add_column("policies", sa.Column("rollback_groups", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("rollback_groups")
    op.drop_index(op.f("ix_divergences_model"), table_name="divergences")
    op.drop_table("divergences")
