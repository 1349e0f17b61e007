"""never lose a client message: filing retried with backoff, follow-up failures shown,
message edits, reply parts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:00:00

One migration for the whole "never lose a client message" change, so that the chain has one
head. Each section says which part of the change its columns serve.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filing is retried with backoff: a pending delivery waits until next_attempt_at.
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
    # Follow-up work (commitment, acknowledgement, page, mirror) that failed for good.
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("followup_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("followup_failed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("followup_failed_at")
        batch_op.drop_column("followup_error")
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
