"""API tokens carry scopes, the names they may submit as, and an expiry.

Tokens made before keep ``scopes`` NULL: they act as ``admin`` (every power, as before), and
every use of one logs a warning to replace it (bot/domain/tokens.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("scopes", sa.String(length=100), nullable=True))
    op.add_column("api_tokens", sa.Column("requested_by", sa.JSON(), nullable=True))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("requested_by")
        batch.drop_column("scopes")
