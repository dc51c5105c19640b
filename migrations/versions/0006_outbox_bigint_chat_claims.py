"""Outbox ids are 64-bit, as the API's schema says; a request's chat message is claimed
before it is posted.

(0004 and 0005 were taken on main by the audit indexes and the Telegram state.)

- The outbox id column and, on PostgreSQL, its sequence were 32-bit: past 2147483647 ids
  (and `POST /api/v1/outbox/2147483648/retry`) failed with "integer out of range".
  SQLite's INTEGER PRIMARY KEY is 64-bit already.
- chat_messages gets a state (`posting` while a deliverer holds the claim, `posted` with
  the message's ref), the claim's token and its lease: one message per request and channel
  across replicas and crashes. Existing rows are `posted`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("outbox", "id", type_=sa.BigInteger(), existing_nullable=False)
        op.execute("ALTER SEQUENCE outbox_id_seq AS bigint")
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="posted")
        )
        batch.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_messages") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claim_token")
        batch.drop_column("state")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE outbox_id_seq AS integer")
        op.alter_column("outbox", "id", type_=sa.Integer(), existing_nullable=False)
