"""what each staff member has read: one marker per (staff member, conversation)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:10:00

A conversation is unread for a staff member while it holds a client message newer than their
marker (storage/read_markers.py). No rows are written: every conversation starts unread.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_markers",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_read_message_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_read_markers_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("staff_id", "conversation_id", name=op.f("pk_read_markers")),
    )
    op.create_index(op.f("ix_read_markers_conversation_id"), "read_markers", ["conversation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_read_markers_conversation_id"), table_name="read_markers")
    op.drop_table("read_markers")
