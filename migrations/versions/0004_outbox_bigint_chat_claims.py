"""Outbox ids are 64-bit, as the API's schema says.

The id column and, on PostgreSQL, its sequence were 32-bit: past 2147483647 ids (and
`POST /api/v1/outbox/2147483648/retry`) failed with "integer out of range". SQLite's
INTEGER PRIMARY KEY is 64-bit already.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("outbox", "id", type_=sa.BigInteger(), existing_nullable=False)
        op.execute("ALTER SEQUENCE outbox_id_seq AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE outbox_id_seq AS integer")
        op.alter_column("outbox", "id", type_=sa.Integer(), existing_nullable=False)
