"""The audit log signed with a key the database does not hold; its last check; refusals
counted beside it.

- audit_events and audit_head get key_id and mac (HMAC-SHA256 with the audit key), the
  head also signed_from (the first signed event). Existing events keep NULLs: they were
  written without a key and verify as before, reported as "unsigned up to #N".
- audit_checks: the last check of the chain (the console shows it; the next check goes on
  from it instead of walking every event again).
- audit_refusals: repeats of a refusal within its window, and the refusals an unknown
  identity's cap kept out of the log, counted instead of written.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("signed_from", sa.BigInteger(), nullable=True))
    op.create_table(
        "audit_checks",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_from", sa.BigInteger(), nullable=True),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("signatures", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem_seq", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checks")),
    )
    op.create_table(
        "audit_refusals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=400), nullable=False),
        sa.Column("why", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_refusals")),
    )
    op.create_index("ix_audit_refusals_actor", "audit_refusals", ["actor", "window_start"])
    op.create_index(op.f("ix_audit_refusals_seq"), "audit_refusals", ["seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_refusals_seq"), table_name="audit_refusals")
    op.drop_index("ix_audit_refusals_actor", table_name="audit_refusals")
    op.drop_table("audit_refusals")
    op.drop_table("audit_checks")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("signed_from")
        batch.drop_column("mac")
        batch.drop_column("key_id")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("mac")
        batch.drop_column("key_id")
