"""Channel references: a chat channel's handles on our things, one method per kind.

The Slack staff inbox (bot/channels/slack/inbox_mirror.py) keeps, in typed tables
(storage/tables.py):

- `slack_threads`, one row per conversation whose thread root was posted: the root as Slack
  names it (channel, ts; unique, so a thread reply finds its conversation), the last message
  mirrored into the thread (`cursor`) and the root's text as shown. The row is written whole
  when the root is posted (`save_slack_thread`); progress is only ever recorded after that.
- `slack_echoes` (message, version): the message is in Slack (typed there, or posted),
  version 0 as first written, n its text after the n-th edit.

Markers are claimed with INSERT … ON CONFLICT DO NOTHING: the database settles races.
(Until migration 0009 these were rows of a key/value table `channel_refs`.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, select, tuple_, update
from sqlalchemy.orm import Session

from storage.conversations import BY_ID, ConversationRepository, ConversationView
from storage.db import run
from storage.tables import ConversationRow, SlackEchoRow, SlackThreadRow
from storage.upsert import insert_new_many, upsert


@dataclass(frozen=True, slots=True)
class SlackThread:
    """A message of Slack's, as Slack names it: the channel and its `ts`."""

    channel: str
    ts: str


@dataclass(frozen=True, slots=True)
class MirrorProgress:
    """How far a conversation's Slack thread is: the last message mirrored into it (0: none
    yet), and the root's text as shown (None: unknown)."""

    cursor: int = 0
    root_text: str | None = None


# A conversation as the inbox shows it, with its thread's root and progress: the mirror's
# look at a conversation in one read, not two.
_CONVERSATION_AND_MIRROR = BY_ID.add_columns(
    SlackThreadRow.channel.label("thread_channel"),
    SlackThreadRow.ts.label("thread_ts"),
    SlackThreadRow.cursor.label("thread_cursor"),
    SlackThreadRow.root_text.label("thread_root_text"),
).outerjoin(SlackThreadRow, SlackThreadRow.conversation_id == ConversationRow.id)


_IN_SLACK = select(SlackEchoRow.message_id).where(
    SlackEchoRow.message_id.in_(bindparam("ids", expanding=True)), SlackEchoRow.version == 0
)


def _advance(cursor: bool, root_text: bool) -> Any:
    """`advance_mirror`'s UPDATE, Core (no object of the table is ever loaded)."""
    table = cast(Table, SlackThreadRow.__table__).c
    changes: dict[str, Any] = {"updated_at": bindparam("now")}
    if cursor:
        to: Any = bindparam("to")
        changes["cursor"] = case((table.cursor < to, to), else_=table.cursor)
    if root_text:
        changes["root_text"] = bindparam("text")
    return (
        update(cast(Table, SlackThreadRow.__table__))
        .where(table.conversation_id == bindparam("conv"))
        .values(changes)
        .returning(table.conversation_id)
    )


# Built once each (storage/upsert.py says why): by (cursor given, root text given).
_ADVANCE = {(c, r): _advance(c, r) for c in (False, True) for r in (False, True)}


class ChannelRefs:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ the Slack staff inbox
    def conversation_and_mirror(
        self, conversation_id: int
    ) -> tuple[ConversationView, tuple[SlackThread, MirrorProgress] | None] | None:
        """The conversation, and the root of its thread in the staff inbox with how far the
        thread is (None if no root was posted), in one read; None if there is no such
        conversation."""
        row = run(
            self.session, _CONVERSATION_AND_MIRROR, {"conversation_id": conversation_id}
        ).first()
        if row is None:
            return None
        view = ConversationRepository.view(row)
        if row.thread_ts is None:
            return view, None
        thread = SlackThread(row.thread_channel, row.thread_ts)
        return view, (thread, MirrorProgress(row.thread_cursor, row.thread_root_text))

    def conversation_of_slack_thread(self, thread: SlackThread) -> int | None:
        """The conversation whose staff-inbox thread has this root."""
        return self.session.execute(
            select(SlackThreadRow.conversation_id).where(
                SlackThreadRow.channel == thread.channel, SlackThreadRow.ts == thread.ts
            )
        ).scalar_one_or_none()

    def save_slack_thread(
        self, conversation_id: int, thread: SlackThread, progress: MirrorProgress, now: datetime
    ) -> None:
        """Remember a newly posted root, both ways, and where its thread starts (a root
        posted again replaces the conversation's previous one, and its progress)."""
        upsert(
            self.session,
            SlackThreadRow.__table__,
            {
                "conversation_id": conversation_id,
                "channel": thread.channel,
                "ts": thread.ts,
                "cursor": progress.cursor,
                "root_text": progress.root_text,
                "created_at": now,
                "updated_at": now,
            },
            ["conversation_id"],
            insert_only=["created_at"],
        )

    def advance_mirror(
        self,
        conversation_id: int,
        now: datetime,
        *,
        cursor: int | None = None,
        root_text: str | None = None,
    ) -> None:
        """Record progress (None: unchanged) of a thread saved by `save_slack_thread`. The
        row is locked first, and the cursor never goes backwards, whatever a slower sync
        thinks: one UPDATE locks the row and compares with the cursor it holds then (on
        PostgreSQL, one waiting for another's lock re-reads the row when it is released)."""
        found = run(
            self.session,
            _ADVANCE[(cursor is not None, root_text is not None)],
            {"conv": conversation_id, "now": now, "to": cursor, "text": root_text},
        ).first()
        if found is None:
            # Progress belongs to a root; recording it without one would be lost silently.
            raise LookupError(f"conversation {conversation_id} has no Slack thread saved")

    def mark_in_slack(self, message_id: int, now: datetime, version: int = 0) -> None:
        """The message (its text after its `version`-th edit) is in Slack: not to be posted."""
        self.mark_versions_in_slack([(message_id, version)], now)

    def mark_versions_in_slack(self, versions: Sequence[tuple[int, int]], now: datetime) -> None:
        """These (message id, version) are in Slack (see `mark_in_slack`), in one statement."""
        insert_new_many(
            self.session,
            SlackEchoRow.__table__,
            [{"message_id": m, "version": v, "created_at": now} for m, v in versions],
        )

    def in_slack(self, message_ids: Iterable[int]) -> frozenset[int]:
        """Which of these messages are in Slack already (as first written)."""
        ids = list(message_ids)
        if not ids:
            return frozenset()
        found = run(self.session, _IN_SLACK, {"ids": ids}).scalars()
        return frozenset(found)

    def versions_in_slack(self, versions: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which of these (message id, edit count) are in Slack already."""
        if not versions:
            return set()
        found = self.session.execute(
            select(SlackEchoRow.message_id, SlackEchoRow.version).where(
                tuple_(SlackEchoRow.message_id, SlackEchoRow.version).in_(list(versions))
            )
        )
        return {(row.message_id, row.version) for row in found}
