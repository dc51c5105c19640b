"""What a chat message shows, and Telegram's send schedule shared by the replicas.

- ``chat_messages.shown``: a digest of the rendering the message was last posted or edited
  with (``bot/service/chat/publisher.py``): an update that renders the same is not sent.
  Unknown (null) while a delivery is in flight, and for messages posted before this.
- ``send_schedule``: each chat's next free write slot (GCRA's theoretical arrival time) and
  a 429's block, in seconds since the epoch, so that every replica paces its writes to a
  Telegram group against one budget (``bot/service/pacing.py``).

Additive (docs/architecture.md, "Schema migrations"): a nullable column and a new table
that the release before this one never reads.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(sa.Column("shown", sa.String(length=64), nullable=True))
    op.create_table(
        "send_schedule",
        sa.Column("key", sa.String(length=120), primary_key=True),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("send_schedule")
    with op.batch_alter_table("chat_messages") as batch:
        batch.drop_column("shown")
