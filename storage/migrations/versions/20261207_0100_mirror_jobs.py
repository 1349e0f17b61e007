"""the Slack mirror's syncs are jobs of the worker, not outbox rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:00:00

A job is a timer the worker runs outside a transaction (storage/timers.py): it needs a lease
(`locked_until`) and a count of the times it was asked for (`requests`). Pending outbox rows
of kind "slack.mirror" (syncs queued by the version before) become the jobs that version's
successor runs: one "slack.mirror:<conversation>" per conversation, naming every message the
rows named, and each delayed look at a commitment ("expect") its own
"slack.mirror.refresh:<commitment>:<state>", due when the row was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MIRROR, REFRESH = "slack.mirror", "slack.mirror.refresh"  # bot/channels/slack/inbox_mirror.py

outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("state", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("next_attempt_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
)
timers = sa.table(
    "timers",
    sa.column("key", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("due_at", UTCDateTime()),
    sa.column("state", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("requests", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("requests", sa.Integer(), nullable=False, server_default="0"))
    _outbox_syncs_to_jobs()


def downgrade() -> None:
    # The version before has no job kinds: their pending syncs are dropped. The mirror's
    # progress is in the channel references, so the next message's sync of a conversation
    # posts whatever it missed.
    op.execute(
        sa.delete(timers).where(timers.c.kind.in_((MIRROR, REFRESH)), timers.c.state == "pending")
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_column("requests")
        batch_op.drop_column("locked_until")


def _outbox_syncs_to_jobs() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(outbox.c.id, outbox.c.payload, outbox.c.next_attempt_at, outbox.c.created_at)
        .where(outbox.c.kind == MIRROR, outbox.c.state.in_(("pending", "sending")))
        .order_by(outbox.c.id)
    ).all()
    jobs: dict[str, dict[str, Any]] = {}
    for row in rows:
        payload = dict(row.payload or {})
        if payload.get("mirror") is None:
            continue
        conversation = int(payload["mirror"])
        expect = payload.get("expect")
        due: datetime = row.next_attempt_at
        if isinstance(expect, dict):
            key = f"{REFRESH}:{int(expect['commitment'])}:{expect['state']}"
            job = jobs.setdefault(key, _job(key, REFRESH, due, row.created_at))
            job["payload"] = {
                "conversation": conversation,
                "commitment": int(expect["commitment"]),
                "state": str(expect["state"]),
                "at": due.isoformat(),
            }
        else:
            key = f"{MIRROR}:{conversation}"
            job = jobs.setdefault(key, _job(key, MIRROR, due, row.created_at))
            job["payload"].setdefault("conversation", conversation)
            ids = job["payload"].setdefault("ids", [])
            ids.extend(int(i) for i in payload.get("ids") or [] if int(i) not in ids)
        job["due_at"] = min(job["due_at"], due)
    if jobs:
        taken = set(
            bind.execute(sa.select(timers.c.key).where(timers.c.key.in_(list(jobs)))).scalars()
        )
        fresh = [job for key, job in jobs.items() if key not in taken]
        if fresh:
            bind.execute(sa.insert(timers), fresh)
    if rows:
        bind.execute(sa.delete(outbox).where(outbox.c.id.in_([row.id for row in rows])))


def _job(key: str, kind: str, due: datetime, created: datetime) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "payload": {},
        "due_at": due,
        "state": "pending",
        "attempts": 0,
        "requests": 0,
        "created_at": created,
    }
