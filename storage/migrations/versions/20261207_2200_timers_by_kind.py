"""timers by state, kind and due time: the worker's look at what is due next probes each kind

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:00:00

`storage/schedule.py` asks when the next timer and the next job are due. Asked of
`ix_timers_state_due` with the job kinds filtered out (or in), the answer walked past every
pending row of the other sort: the mirror's jobs waiting under load, or a breach and an
at-risk timer for each open commitment (7,000 pending rows: 5 ms a look, 64 looks a second
under bench.e2e at 150 messages/s). With this index each kind is one probe of it.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_state_kind_due", ["state", "kind", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_state_kind_due")
