"""staff preferences: each login's time zone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00

`staff_accounts.timezone`: the IANA zone the inbox shows times in for this login (its owner
chooses it on /inbox/profile). NULL, as every existing login starts, means the agency's zone.
A column of the account rather than a table of its own: a login is one person's, and the
session already reads the account on every request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.drop_column("timezone")
