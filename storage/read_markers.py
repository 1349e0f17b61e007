"""What each staff member has read: a marker per (staff member, conversation), and what is
unread because of it.

A conversation is unread for someone while it holds a client message (direction "in") newer
than their marker; with no marker, any client message makes it unread. Message ids grow with
time, so the marker is the newest message id they were shown, and it never moves back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from storage.tables import ConversationRow, MessageRow, ReadMarkerRow
from storage.upsert import insert_new

# The states of a promise that want someone's attention whether read or not.
URGENT_STATES = ("at_risk", "breached")


@dataclass(frozen=True, slots=True)
class UnreadCounts:
    """Unread open conversations, by the inbox's views over open conversations."""

    open: int = 0
    mine: int = 0
    unassigned: int = 0
    at_risk: int = 0
    breached: int = 0

    def of(self, view: str) -> int | None:
        """The count for one of the inbox's views; None for a view not counted here (closed
        and all: a closed conversation is left unread only by someone else's close)."""
        counts = {
            "open": self.open,
            "mine": self.mine,
            "unassigned": self.unassigned,
            "at_risk": self.at_risk,
            "breached": self.breached,
        }
        return counts.get(view)


def unread(staff_id: str) -> ColumnElement[bool]:
    """True for a conversation (ConversationRow, in the enclosing query) that `staff_id` has
    a client message in newer than their marker."""
    marker = (
        select(ReadMarkerRow.last_read_message_id)
        .where(
            ReadMarkerRow.staff_id == staff_id,
            ReadMarkerRow.conversation_id == MessageRow.conversation_id,
        )
        .scalar_subquery()
    )
    return exists().where(
        MessageRow.conversation_id == ConversationRow.id,
        MessageRow.direction == "in",
        MessageRow.id > func.coalesce(marker, 0),
    )


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class ReadMarkers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def mark_read(self, staff_id: str, conversation_id: int, message_id: int, at: datetime) -> bool:
        """`staff_id` has seen the conversation up to `message_id`; True if that moved their
        marker (a marker already further on stays where it is: two tabs, an older page)."""
        values = {
            "staff_id": staff_id,
            "conversation_id": conversation_id,
            "last_read_message_id": message_id,
            "at": at,
        }
        if insert_new(self.session, ReadMarkerRow.__table__, values):
            return True
        moved = self.session.execute(
            update(ReadMarkerRow)
            .where(
                ReadMarkerRow.staff_id == staff_id,
                ReadMarkerRow.conversation_id == conversation_id,
                ReadMarkerRow.last_read_message_id < message_id,
            )
            .values(last_read_message_id=message_id, at=at)
        )
        return bool(getattr(moved, "rowcount", 0))

    def last_read(self, staff_id: str, conversation_id: int) -> int | None:
        return self.session.execute(
            select(ReadMarkerRow.last_read_message_id).where(
                ReadMarkerRow.staff_id == staff_id,
                ReadMarkerRow.conversation_id == conversation_id,
            )
        ).scalar_one_or_none()

    def progress(self, staff_id: str) -> int:
        """A number that grows whenever one of `staff_id`'s markers moves: the live updates
        watch it, so that reading in one tab un-bolds the others (bot/http/web/live.py)."""
        total = self.session.execute(
            select(func.coalesce(func.sum(ReadMarkerRow.last_read_message_id), 0)).where(
                ReadMarkerRow.staff_id == staff_id
            )
        ).scalar_one()
        return int(total)

    def unread_among(self, staff_id: str, conversation_ids: Sequence[int]) -> set[int]:
        """Which of these conversations are unread for `staff_id`: one statement for a page
        of the inbox list."""
        if not conversation_ids:
            return set()
        rows = self.session.execute(
            select(ConversationRow.id).where(
                ConversationRow.id.in_(conversation_ids), unread(staff_id)
            )
        ).scalars()
        return set(rows)

    def unread_counts(self, staff_id: str, among: Any | None = None) -> UnreadCounts:
        """Unread open conversations by view, among the ids `among` selects (a subquery of
        conversation ids: the inbox's other filters) or all: one statement."""
        conv = ConversationRow
        query = select(
            func.count(),
            _sum(conv.assignee == staff_id),
            _sum(conv.assignee.is_(None)),
            _sum(conv.commitment_state == "at_risk"),
            _sum(conv.commitment_state == "breached"),
        ).where(conv.status == "open", unread(staff_id))
        if among is not None:
            query = query.where(conv.id.in_(among))
        open_, mine, unassigned, at_risk, breached = self.session.execute(query).one()
        return UnreadCounts(open_, mine, unassigned, at_risk, breached)

    def attention_count(self, staff_id: str) -> int:
        """Open conversations unread for `staff_id` or whose promise is at risk or broken:
        the number in the tab's title and on its icon."""
        conv = ConversationRow
        return int(
            self.session.execute(
                select(func.count()).where(
                    conv.status == "open",
                    or_(conv.commitment_state.in_(URGENT_STATES), unread(staff_id)),
                )
            ).scalar_one()
        )
