"""The outbox's give-up window, and the chat updates already processed.

- ``outbox.failing_since``: when a row started failing; the outbox gives up
  APPROVAL_BOT_OUTBOX_GIVE_UP_AFTER later (a time, not a count of attempts).
- ``seen_updates``: a channel's inbound updates processed once (Telegram redelivers a
  webhook update whose answer was slow), pruned after a day.

Additive (docs/architecture.md, "Schema migrations"): a nullable column and a new table
that the release before this one never reads.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "seen_updates",
        sa.Column("channel", sa.String(length=40), primary_key=True),
        sa.Column("update_key", sa.String(length=100), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seen_updates_seen_at", "seen_updates", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_updates_seen_at", table_name="seen_updates")
    op.drop_table("seen_updates")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("failing_since")
