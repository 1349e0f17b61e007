"""the Slack mirror's channel references as typed rows, not keys of channel_refs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:00:00

The key/value table `channel_refs` held five kinds of key (storage/channel_refs.py before
this revision); each becomes rows of its own table:

- "slack:thread:<c>" {"channel", "ts"}, "slack:root:<channel>:<ts>" {"conversation_id"} and
  "slack:mirror:<c>" {"cursor", "root"}: one `slack_threads` row per conversation. They were
  always written together, in one transaction; a root key fills in a missing thread key, and
  progress without a root is dropped (the next sync posts a root and starts afresh, as it
  would have then).
- "slack:echo:<m>" and "slack:echo:<m>:v<n>": `slack_echoes` (m, 0) and (m, n).
- "slack:refresh:<c>" {}: dropped. It said that a commitment's delayed looks at its state
  were queued; the mirror no longer looks (a commitment's own timer asks for the sync), and
  a look still queued asks once and ends (bot/channels/slack/inbox_mirror.py). The downgrade
  writes none: the older mirror queues a commitment's looks again under the same timer keys,
  which it schedules once.

Keys of no such form, with values that do not parse, or naming a conversation, message that
no longer exists (messages folded by 0006) are left behind, unmentioned.
The downgrade writes the keys back, from the typed rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 500  # rows per statement: within SQLite's oldest limit of 999 bound parameters
CHANNEL_LEN, TS_LEN = 64, 64  # slack_threads.channel and .ts (storage/tables.py)
ROW_ID_MAX = 2**31 - 1  # an INTEGER column (32-bit on PostgreSQL): routing/limits.py

_ID = r"([1-9][0-9]*)"  # as the code wrote ids: no sign, no leading zero
THREAD = re.compile(rf"slack:thread:{_ID}")
MIRROR = re.compile(rf"slack:mirror:{_ID}")
ROOT = re.compile(r"slack:root:([^:]+):(.+)")
ECHO = re.compile(rf"slack:echo:{_ID}(?::v{_ID})?")

channel_refs = sa.table(
    "channel_refs",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("value", sa.JSON()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
slack_threads = sa.table(
    "slack_threads",
    sa.column("conversation_id", sa.Integer()),
    sa.column("channel", sa.String()),
    sa.column("ts", sa.String()),
    sa.column("cursor", sa.Integer()),
    sa.column("root_text", sa.Text()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
slack_echoes = sa.table(
    "slack_echoes",
    sa.column("message_id", sa.Integer()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
)
conversations = sa.table("conversations", sa.column("id", sa.Integer()))
messages = sa.table("messages", sa.column("id", sa.Integer()))


def upgrade() -> None:
    op.create_table(
        "slack_threads",
        sa.Column("conversation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("root_text", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_slack_threads_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_slack_threads")),
        sa.UniqueConstraint("channel", "ts", name=op.f("uq_slack_threads_channel_ts")),
    )
    op.create_table(
        "slack_echoes",
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_slack_echoes_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("message_id", "version", name=op.f("pk_slack_echoes")),
    )
    _copy_threads()
    _copy_markers()
    op.drop_table("channel_refs")


def downgrade() -> None:
    op.create_table(
        "channel_refs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_refs")),
        sa.UniqueConstraint("key", name=op.f("uq_channel_refs_key")),
    )
    _copy_back()
    op.drop_table("slack_echoes")
    op.drop_table("slack_threads")


# --- upgrade -----------------------------------------------------------------------------------


def _refs(*prefixes: str) -> Iterator[Sequence[sa.Row[Any]]]:
    """The rows of channel_refs whose key starts with one of `prefixes`, BATCH at a time."""
    bind = op.get_bind()
    # The prefixes hold no LIKE wildcard (% or _) to escape.
    match = sa.or_(*(channel_refs.c.key.like(f"{p}%") for p in prefixes))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(channel_refs)
            .where(match, channel_refs.c.id > after)
            .order_by(channel_refs.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _existing(table: sa.TableClause, ids: set[int]) -> set[int]:
    """Which of these ids `table` has (rows are never deleted, but 0006 folded messages)."""
    found: set[int] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        found.update(
            op.get_bind().execute(sa.select(table.c.id).where(table.c.id.in_(chunk))).scalars()
        )
    return found


def _number(value: Any) -> int | None:
    """A row id, cursor or edit count as the code wrote it (an int); None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= ROW_ID_MAX else None


def _handle(value: Any, length: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= length else None


def _copy_threads() -> None:
    """Thread, root and mirror keys, one per conversation: few, so all at once."""
    roots: dict[int, dict[str, Any]] = {}  # conversation: channel, ts, created_at, updated_at
    fallback: dict[int, dict[str, Any]] = {}  # the same, from the root keys
    progress: dict[int, dict[str, Any]] = {}  # conversation: cursor, root_text, updated_at
    for rows in _refs("slack:thread:", "slack:root:", "slack:mirror:"):
        for row in rows:
            value = row.value if isinstance(row.value, dict) else {}
            stamps = {"created_at": row.created_at, "updated_at": row.updated_at}
            if (found := THREAD.fullmatch(row.key)) and (conversation := _number(found[1])):
                channel = _handle(value.get("channel"), CHANNEL_LEN)
                ts = _handle(value.get("ts"), TS_LEN)
                if channel is not None and ts is not None:
                    roots[conversation] = {"channel": channel, "ts": ts, **stamps}
            elif found := ROOT.fullmatch(row.key):
                conversation = _number(value.get("conversation_id"))
                channel, ts = _handle(found[1], CHANNEL_LEN), _handle(found[2], TS_LEN)
                if conversation and channel is not None and ts is not None:
                    fallback[conversation] = {"channel": channel, "ts": ts, **stamps}
            elif (found := MIRROR.fullmatch(row.key)) and (conversation := _number(found[1])):
                # The code wrote a cursor always, but read a missing one as 0.
                cursor = _number(value.get("cursor") or 0)
                text = value.get("root")
                if cursor is not None:
                    progress[conversation] = {
                        "cursor": cursor,
                        "root_text": text if isinstance(text, str) else None,
                        "updated_at": row.updated_at,
                    }
    for conversation, root in fallback.items():
        roots.setdefault(conversation, root)
    alive = _existing(conversations, set(roots))
    # (channel, ts) is unique: were a root ever claimed twice, the first conversation keeps it.
    taken: set[tuple[str, str]] = set()
    threads = []
    for conversation in sorted(roots):
        root = roots[conversation]
        if conversation not in alive or (root["channel"], root["ts"]) in taken:
            continue
        taken.add((root["channel"], root["ts"]))
        mirror = progress.get(conversation, {})
        updated: datetime = max(root["updated_at"], mirror.get("updated_at", root["updated_at"]))
        threads.append(
            {
                "conversation_id": conversation,
                "channel": root["channel"],
                "ts": root["ts"],
                "cursor": mirror.get("cursor", 0),
                "root_text": mirror.get("root_text"),
                "created_at": root["created_at"],
                "updated_at": updated,
            }
        )
    for start in range(0, len(threads), BATCH):
        op.get_bind().execute(sa.insert(slack_threads), threads[start : start + BATCH])


def _copy_markers() -> None:
    """Echo keys: one per message mirrored, so BATCH at a time."""
    bind = op.get_bind()
    for rows in _refs("slack:echo:"):
        echoes: list[dict[str, Any]] = []
        for row in rows:
            if found := ECHO.fullmatch(row.key):
                message, version = _number(found[1]), _number(found[2] or 0)
                if message and version is not None:
                    echoes.append(
                        {"message_id": message, "version": version, "created_at": row.created_at}
                    )
        # The canonical forms above make each key one row: no two keys give the same one.
        alive = _existing(messages, {e["message_id"] for e in echoes})
        echoes = [e for e in echoes if e["message_id"] in alive]
        if echoes:
            bind.execute(sa.insert(slack_echoes), echoes)


# --- downgrade ---------------------------------------------------------------------------------


def _copy_back() -> None:
    bind = op.get_bind()
    threads = bind.execute(sa.select(slack_threads).order_by(slack_threads.c.conversation_id))
    for chunk in threads.partitions(BATCH):
        refs = []
        for t in chunk:
            refs += [
                _ref(
                    f"slack:thread:{t.conversation_id}",
                    {"channel": t.channel, "ts": t.ts},
                    t.created_at,
                    t.updated_at,
                ),
                _ref(
                    f"slack:root:{t.channel}:{t.ts}",
                    {"conversation_id": t.conversation_id},
                    t.created_at,
                    t.created_at,
                ),
                _ref(
                    f"slack:mirror:{t.conversation_id}",
                    {"cursor": t.cursor, "root": t.root_text},
                    t.created_at,
                    t.updated_at,
                ),
            ]
        _insert_refs(refs)
    echoes = bind.execute(
        sa.select(slack_echoes).order_by(slack_echoes.c.message_id, slack_echoes.c.version)
    )
    for chunk in echoes.partitions(BATCH):
        _insert_refs(
            [
                _ref(
                    f"slack:echo:{e.message_id}" + (f":v{e.version}" if e.version else ""),
                    {},
                    e.created_at,
                    e.created_at,
                )
                for e in chunk
            ]
        )


def _ref(key: str, value: dict[str, Any], created: datetime, updated: datetime) -> dict[str, Any]:
    return {"key": key, "value": value, "created_at": created, "updated_at": updated}


def _insert_refs(refs: list[dict[str, Any]]) -> None:
    if refs:
        op.get_bind().execute(sa.insert(channel_refs), refs)
