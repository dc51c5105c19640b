"""A canary's rollout on its request (who may roll it back, a policy's rollback_groups,
came with 0014).

Additive (docs/architecture.md, "Schema migrations"): a nullable JSON column. The release
before this one never writes it and never reads it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("approval_requests", sa.Column("rollout", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("rollout")
