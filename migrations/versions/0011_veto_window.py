"""The veto window: a policy's auto_approve_after, a request's auto_approve_at and policy.

Additive (docs/architecture.md, "Schema migrations"): three nullable columns. The release
before this one never writes them (its policies have no window, its requests none either)
and never reads them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("auto_approve_after_s", sa.Integer(), nullable=True))
    op.add_column(
        "approval_requests",
        sa.Column("auto_approve_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "approval_requests",
        sa.Column("auto_approve_policy", sa.String(length=200), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("auto_approve_policy")
        batch.drop_column("auto_approve_at")
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("auto_approve_after_s")
