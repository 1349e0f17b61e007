"""what the promise reports read of each commitment, kept as it is decided: whether it is its
conversation's first, who answered it and the business time it waited

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:00:00

Three columns of `commitments`, written in the transaction that starts or answers the
commitment (storage/commitments.py), so that a report reads them instead of probing the
earlier commitments and the messages of every commitment, and sums them in SQL
(storage/reports.py):

- `first_of_conversation`: no earlier commitment on its conversation (a *first* response);
- `answered_by`: the author of the staff message recorded at the instant it was answered;
- `business_seconds`: the open seconds of its tier's business calendar from its start to its
  answer, under the calendar in force when it was answered.

The first two are filled here from the history. The third needs the configuration's
calendars, which a migration does not have: it stays empty for commitments answered before
this revision; the reports compute those as before (slower), and
`partnerline report backfill` fills them once. No new index: a period's commitments are read
through `ix_commitments_started` (0013), and the columns give the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FIRST = """
UPDATE commitments SET first_of_conversation = NOT EXISTS (
    SELECT 1 FROM commitments AS earlier
    WHERE earlier.conversation_id = commitments.conversation_id
      AND (earlier.started_at < commitments.started_at
           OR (earlier.started_at = commitments.started_at AND earlier.id < commitments.id)))
"""

ANSWERED_BY = """
UPDATE commitments SET answered_by = (
    SELECT m.author_id FROM messages AS m
    WHERE m.conversation_id = commitments.conversation_id
      AND m.direction = 'out'
      AND m.created_at = commitments.answered_at
    ORDER BY m.id LIMIT 1)
WHERE answered_at IS NOT NULL
"""


def upgrade() -> None:
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "first_of_conversation",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
            )
        )
        batch_op.add_column(sa.Column("answered_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("business_seconds", sa.Float(), nullable=True))
    op.execute(FIRST)
    op.execute(ANSWERED_BY)


def downgrade() -> None:
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_column("business_seconds")
        batch_op.drop_column("answered_by")
        batch_op.drop_column("first_of_conversation")
