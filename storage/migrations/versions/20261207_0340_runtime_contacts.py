"""contacts at runtime: where each channel identity comes from

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:40:00

`channel_identities.source`: "config" for an address the configuration gives a contact (the
start-up sync owns it, and takes it back when the file stops listing it), "runtime" for one
added in the app (triage, a merge, the contacts API, an unknown sender's own address), which
the sync never deletes. Backfill: identities of contacts from the file are "config", the rest
"runtime".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="runtime")
        )
    op.execute(
        "UPDATE channel_identities SET source = 'config' WHERE contact_id IN "
        "(SELECT id FROM contacts WHERE config_key IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("channel_identities", schema=None) as batch_op:
        batch_op.drop_column("source")
