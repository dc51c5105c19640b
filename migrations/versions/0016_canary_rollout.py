"""A canary's rollout on its request, and who may roll a canary back (a policy's
rollback_groups).

Additive (docs/architecture.md, "Schema migrations"): two nullable JSON columns. The release
before this one never writes them and never reads them.

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("approval_requests", sa.Column("rollout", sa.JSON(), nullable=True))
    op.add_column("policies", sa.Column("rollback_groups", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("rollback_groups")
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("rollout")
