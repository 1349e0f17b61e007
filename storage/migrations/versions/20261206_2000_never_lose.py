"""never lose a client message: filing retried with backoff, follow-up failures shown,
message edits, reply parts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:00:00

One migration for the whole "never lose a client message" change, so that the chain has one
head. Each section says which part of the change its columns serve.
"""

from __future__ import annotations

from typing import Any

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
    # Reply parts and the order rule (storage/outbox.py): a long message is one outbox row
    # per part, each with its own delivery; rows to one recipient leave in order.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("part", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("ordered", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("delivery", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_outbox_recipient_order", ["channel", "recipient", "state", "created_at"]
        )
        batch_op.create_index("ix_outbox_channel_provider", ["channel", "provider_id"])
    # A message sent before parts existed is its one part, as far along as the message.
    op.execute(
        "UPDATE outbox SET delivery = (SELECT messages.delivery FROM messages"
        " WHERE messages.id = outbox.message_id) WHERE message_id IS NOT NULL"
    )
    # Edits are edits: a message keeps its earlier texts; edits stored before as messages of
    # their own are folded into their originals.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edits", sa.JSON(), nullable=True))
    _fold_edits()
    # Server-side inbox sessions (storage/sessions.py): the cookie is an opaque random token,
    # stored here hashed, so sign-out, a new password or `users revoke` can end a session.
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_sessions_account_id_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_account_id"), ["account_id"])


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_account_id"))
    op.drop_table("staff_sessions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_provider")
        batch_op.drop_index("ix_outbox_recipient_order")
        batch_op.drop_column("delivery")
        batch_op.drop_column("ordered")
        batch_op.drop_column("part")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("edits")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("followup_failed_at")
        batch_op.drop_column("followup_error")
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")


def _fold_edits() -> None:
    """Before 0006 an edit was a second `in` message whose edit_of names the original (never
    another edit). Each becomes an entry of its original's history (routing.edits), oldest
    first, and the row goes; what pointed at it points at the original."""
    bind = op.get_bind()
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer()),
        sa.column("text", sa.Text()),
        sa.column("edit_of", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
        sa.column("edits", sa.JSON()),
    )
    rows = bind.execute(
        sa.select(messages.c.id, messages.c.text, messages.c.edit_of, messages.c.created_at)
        .where(messages.c.edit_of.is_not(None))
        .order_by(messages.c.edit_of, messages.c.created_at, messages.c.id)
    ).all()
    by_original: dict[int, list[Any]] = {}
    for row in rows:
        by_original.setdefault(row.edit_of, []).append(row)
    for original_id, edits in by_original.items():
        text = bind.execute(
            sa.select(messages.c.text).where(messages.c.id == original_id)
        ).scalar_one()
        history = []
        for edit in edits:
            history.append(
                {
                    "text": text,
                    "at": edit.created_at.isoformat(),
                    "edit": f"row:{edit.id}",
                    "edited_at": None,
                }
            )
            text = edit.text
        bind.execute(
            sa.update(messages).where(messages.c.id == original_id).values(text=text, edits=history)
        )
        edit_ids = [edit.id for edit in edits]
        for table, column in (
            ("inbound_deliveries", "message_id"),
            ("outbox", "message_id"),
            ("commitments", "trigger_message_id"),
        ):
            target = sa.table(table, sa.column(column, sa.Integer()))
            bind.execute(
                sa.update(target)
                .where(target.c[column].in_(edit_ids))
                .values({column: original_id})
            )
        bind.execute(sa.delete(messages).where(messages.c.id.in_(edit_ids)))
