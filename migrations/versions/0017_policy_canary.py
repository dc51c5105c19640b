"""A policy's canary: steps and dwell the promotion of its approved versions walks.

Additive (docs/architecture.md, "Schema migrations"): a nullable JSON column (NULL: no canary
of the policy's own; the promotion target decides). The release before this one never writes
it and never reads it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("canary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("canary")
