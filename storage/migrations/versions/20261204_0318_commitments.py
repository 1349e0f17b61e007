"""commitments

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 03:18:14.627923
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("awaiting", sa.Boolean(), nullable=False),
        sa.Column("after_hours", sa.Boolean(), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("at_risk_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("met_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("breached_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("closed_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("trigger_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_commitments_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["trigger_message_id"],
            ["messages.id"],
            name=op.f("fk_commitments_trigger_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
    )
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitments_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index("ix_commitments_state_due", ["state", "due_at"], unique=False)
        batch_op.create_index(
            "uq_commitments_awaiting",
            ["conversation_id"],
            unique=True,
            sqlite_where=sa.text("awaiting = 1"),
            postgresql_where=sa.text("awaiting"),
        )

    op.create_table(
        "commitment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_commitment_events_commitment_id_commitments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitment_events")),
    )
    with op.batch_alter_table("commitment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitment_events_commitment_id"), ["commitment_id"], unique=False
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commitment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("commitment_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("due_at", storage.types.UTCDateTime(), nullable=True))
        batch_op.create_index(
            "ix_conversations_state_due", ["commitment_state", "due_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_state_due")
        batch_op.drop_column("due_at")
        batch_op.drop_column("commitment_state")
        batch_op.drop_column("commitment_id")

    with op.batch_alter_table("commitment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_events_commitment_id"))

    op.drop_table("commitment_events")
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_commitments_awaiting",
            sqlite_where=sa.text("awaiting = 1"),
            postgresql_where=sa.text("awaiting"),
        )
        batch_op.drop_index("ix_commitments_state_due")
        batch_op.drop_index(batch_op.f("ix_commitments_conversation_id"))

    op.drop_table("commitments")
