"""Indexes for the audit at scale: requests by approver, model and state in date order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ?approver=: without it a rare approver means reading every vote.
    op.create_index("ix_votes_person", "votes", ["person", "request_id"])
    # ?model= and ?decision= pages, oldest first.
    op.create_index(
        "ix_approval_requests_model_created", "approval_requests", ["model_name", "created_at", "id"]
    )
    op.create_index(
        "ix_approval_requests_state_created", "approval_requests", ["state", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_approval_requests_state_created", table_name="approval_requests")
    op.drop_index("ix_approval_requests_model_created", table_name="approval_requests")
    op.drop_index("ix_votes_person", table_name="votes")
