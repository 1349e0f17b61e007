"""Channel references: a chat channel's handles on our things, one method per kind.

They live in the `channel_refs` table, one row per key. The keys (kept as they always were, so
that rows written before this module read the same) are private to this module:

- "slack:thread:<conversation>" {"channel", "ts"}: the root of the conversation's thread in
  the Slack staff inbox;
- "slack:root:<channel>:<ts>" {"conversation_id"}: the same, looked up from a thread reply;
- "slack:mirror:<conversation>" {"cursor", "root"}: the last message mirrored into that
  thread, and the root's text as shown;
- "slack:refresh:<commitment>" {}: the commitment's delayed syncs are queued;
- "slack:echo:<message>" {}: the message is in Slack (typed there, or posted);
  "slack:echo:<message>:v<n>" {}: so is its text after its n-th edit.

Markers are claimed with INSERT … ON CONFLICT DO NOTHING: the database settles races.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from storage.tables import ChannelRefRow
from storage.upsert import insert_ignore


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


def _thread_key(conversation_id: int) -> str:
    return f"slack:thread:{conversation_id}"


def _root_key(thread: SlackThread) -> str:
    return f"slack:root:{thread.channel}:{thread.ts}"


def _mirror_key(conversation_id: int) -> str:
    return f"slack:mirror:{conversation_id}"


def _refresh_key(commitment_id: int) -> str:
    return f"slack:refresh:{commitment_id}"


def _echo_key(message_id: int, version: int = 0) -> str:
    """That the message's text after its `version`-th edit is in Slack (0: as first written)."""
    key = f"slack:echo:{message_id}"
    return key if version == 0 else f"{key}:v{version}"


class ChannelRefs:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ the Slack staff inbox
    def slack_thread(self, conversation_id: int) -> SlackThread | None:
        """The root of the conversation's thread in the staff inbox, if it was posted."""
        value = self._get(_thread_key(conversation_id))
        return SlackThread(str(value["channel"]), str(value["ts"])) if value else None

    def conversation_of_slack_thread(self, thread: SlackThread) -> int | None:
        """The conversation whose staff-inbox thread has this root."""
        value = self._get(_root_key(thread))
        found = value.get("conversation_id") if value else None
        return int(found) if found else None

    def save_slack_thread(
        self, conversation_id: int, thread: SlackThread, progress: MirrorProgress, now: datetime
    ) -> None:
        """Remember a newly posted root, both ways, and where its thread starts."""
        self._put(_thread_key(conversation_id), {"channel": thread.channel, "ts": thread.ts}, now)
        self._put(_root_key(thread), {"conversation_id": conversation_id}, now)
        self._put(
            _mirror_key(conversation_id),
            {"cursor": progress.cursor, "root": progress.root_text},
            now,
        )

    def mirror_progress(self, conversation_id: int) -> MirrorProgress:
        value = self._get(_mirror_key(conversation_id)) or {}
        return MirrorProgress(int(value.get("cursor") or 0), value.get("root"))

    def advance_mirror(
        self,
        conversation_id: int,
        now: datetime,
        *,
        cursor: int | None = None,
        root_text: str | None = None,
    ) -> None:
        """Record progress (None: unchanged). The row is locked first, and the cursor never
        goes backwards, whatever a slower sync thinks."""
        key = _mirror_key(conversation_id)
        row = self.session.execute(
            select(ChannelRefRow).where(ChannelRefRow.key == key).with_for_update()
        ).scalar_one_or_none()
        value = dict(row.value) if row is not None else {}
        if cursor is not None:
            value["cursor"] = max(int(value.get("cursor") or 0), cursor)
        if root_text is not None:
            value["root"] = root_text
        self._put(key, value, now)

    def claim_mirror_refresh(self, commitment_id: int, now: datetime) -> bool:
        """True the first time only: the commitment's delayed syncs are to be queued now."""
        return self._claim(_refresh_key(commitment_id), {}, now)

    def mark_in_slack(self, message_id: int, now: datetime, version: int = 0) -> None:
        """The message (its text after its `version`-th edit) is in Slack: not to be posted."""
        self._claim(_echo_key(message_id, version), {}, now)

    def in_slack(self, message_ids: Iterable[int]) -> frozenset[int]:
        """Which of these messages are in Slack already (as first written)."""
        keys = [_echo_key(i) for i in message_ids]
        if not keys:
            return frozenset()
        found = self.session.execute(
            select(ChannelRefRow.key).where(ChannelRefRow.key.in_(keys))
        ).scalars()
        return frozenset(int(k.rsplit(":", 1)[1]) for k in found)

    def versions_in_slack(self, versions: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which of these (message id, edit count) are in Slack already."""
        keys = {_echo_key(m, v): (m, v) for m, v in versions}
        if not keys:
            return set()
        found = self.session.execute(
            select(ChannelRefRow.key).where(ChannelRefRow.key.in_(list(keys)))
        ).scalars()
        return {keys[k] for k in found}

    # ------------------------------------------------------------------ the rows
    def _get(self, key: str) -> dict[str, Any] | None:
        value = self.session.execute(
            select(ChannelRefRow.value).where(ChannelRefRow.key == key)
        ).scalar_one_or_none()
        return dict(value) if value is not None else None

    def _claim(self, key: str, value: dict[str, Any], now: datetime) -> bool:
        """Insert the ref unless it exists; True if inserted."""
        row_id = insert_ignore(
            self.session,
            cast(Table, ChannelRefRow.__table__),  # a mapped class's table is a Table
            {"key": key, "value": value, "created_at": now, "updated_at": now},
        )
        return row_id is not None

    def _put(self, key: str, value: dict[str, Any], now: datetime) -> None:
        if not self._claim(key, value, now):
            self.session.execute(
                update(ChannelRefRow)
                .where(ChannelRefRow.key == key)
                .values(value=value, updated_at=now)
            )
