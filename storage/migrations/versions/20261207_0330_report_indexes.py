"""indexes for the promise reports (storage/reports.py): commitments by start, and by
conversation and start (is it the conversation's first?), pages by opening, notifications by
sending, and the after-hours acknowledgements by time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AUTO = "direction = 'auto'"


def upgrade() -> None:
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.create_index("ix_commitments_started", ["started_at"], unique=False)
        batch_op.create_index(
            "ix_commitments_conversation_started", ["conversation_id", "started_at"], unique=False
        )
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.create_index("ix_pages_opened", ["opened_at"], unique=False)
    with op.batch_alter_table("page_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_page_notifications_sent", ["sent_at"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_auto_created",
            ["created_at"],
            unique=False,
            sqlite_where=sa.text(AUTO),
            postgresql_where=sa.text(AUTO),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_auto_created")
    with op.batch_alter_table("page_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_page_notifications_sent")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index("ix_pages_opened")
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_index("ix_commitments_conversation_started")
        batch_op.drop_index("ix_commitments_started")
