"""What is new for one staff member since the last look: the inbox's desktop notifications.

Three kinds, each read past its own watermark so that nothing is told twice nor skipped:
a client's message on a conversation of theirs or nobody's (by message id), a promise there
falling at risk (by commitment event id), and a page sent to them (by when it was sent, then
id: a notification is written when its step is planned and sent later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from storage.conversations import UNKNOWN_CLIENT_NAME, decode_cursor, encode_cursor
from storage.tables import (
    ClientRow,
    CommitmentEventRow,
    CommitmentRow,
    ContactRow,
    ConversationRow,
    MessageRow,
    PageNotificationRow,
    PageRow,
)

LIMIT = 20  # of each kind per look: a burst is summed up by the count, not by 500 pop-ups
SENT = "sent"


@dataclass(frozen=True, slots=True)
class Watermark:
    message_id: int = 0
    event_id: int = 0
    page_sent_at: datetime | None = None
    page_note_id: int = 0

    def encode(self) -> str:
        sent = self.page_sent_at.isoformat() if self.page_sent_at else None
        return encode_cursor([self.message_id, self.event_id, sent, self.page_note_id])

    @staticmethod
    def decode(value: str) -> Watermark:
        """Raises ValueError for anything `encode` did not make."""
        if len(value) > 200:
            raise ValueError("not a watermark")
        parts = decode_cursor(value)
        if len(parts) != 4 or not all(type(parts[i]) is int and parts[i] >= 0 for i in (0, 1, 3)):
            raise ValueError("not a watermark")
        sent = None
        if parts[2] is not None:
            try:
                sent = datetime.fromisoformat(parts[2])
            except (TypeError, ValueError) as exc:
                raise ValueError("not a watermark") from exc
            if sent.utcoffset() is None:
                raise ValueError("not a watermark")
        return Watermark(parts[0], parts[1], sent, parts[3])


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # message | at_risk | page
    key: str  # unique per notice: the browser shows one notification per key
    conversation_id: int
    client_name: str
    contact_name: str | None
    text: str
    at: datetime


def _mine_or_nobodys(staff_id: str) -> Any:
    return or_(ConversationRow.assignee == staff_id, ConversationRow.assignee.is_(None))


def _named(query: Any) -> Any:
    """`query`, which reads conversations, with their contacts and clients for the names."""
    return query.join(ContactRow, ContactRow.id == ConversationRow.contact_id).outerjoin(
        ClientRow, ClientRow.id == ConversationRow.client_id
    )


def _newest() -> Any:
    return select(
        select(func.max(MessageRow.id)).scalar_subquery(),
        select(func.max(CommitmentEventRow.id)).scalar_subquery(),
    )


class Notices:
    def __init__(self, session: Session) -> None:
        self.session = session

    def now_mark(self, staff_id: str) -> Watermark:
        """Where a page that has told nothing yet starts: everything so far is known."""
        newest_message, newest_event = self.session.execute(_newest()).one()
        last_page = self.session.execute(
            select(PageNotificationRow.sent_at, PageNotificationRow.id)
            .where(PageNotificationRow.staff_id == staff_id, PageNotificationRow.state == SENT)
            .order_by(PageNotificationRow.sent_at.desc(), PageNotificationRow.id.desc())
            .limit(1)
        ).first()
        return Watermark(
            newest_message or 0,
            newest_event or 0,
            last_page[0] if last_page else None,
            last_page[1] if last_page else 0,
        )

    def since(self, staff_id: str, mark: Watermark) -> tuple[list[Notice], Watermark]:
        """What is new for `staff_id` past `mark`, oldest first, and the mark past it."""
        # Read up to the newest ids as of now, so that the next look starts where this ended
        # even if a message lands meanwhile.
        newest_message, newest_event = self.session.execute(_newest()).one()
        messages = self._messages(staff_id, mark.message_id, newest_message or 0)
        events = self._at_risk(staff_id, mark.event_id, newest_event or 0)
        pages = self._pages(staff_id, mark)
        # Past what was looked at, told or not (someone else's), unless a kind hit its limit.
        last_page = pages[-1] if pages else None
        next_mark = Watermark(
            messages[-1][0]
            if len(messages) == LIMIT
            else max(mark.message_id, newest_message or 0),
            events[-1][0] if len(events) == LIMIT else max(mark.event_id, newest_event or 0),
            last_page[1] if last_page else mark.page_sent_at,
            last_page[0] if last_page else mark.page_note_id,
        )
        notices = [n for _, n in messages] + [n for _, n in events] + [n for *_, n in pages]
        notices.sort(key=lambda n: n.at)
        return notices, next_mark

    def _messages(self, staff_id: str, after: int, upto: int) -> list[tuple[int, Notice]]:
        query = select(MessageRow, ConversationRow.id, ContactRow.name, ClientRow.name).join(
            ConversationRow, ConversationRow.id == MessageRow.conversation_id
        )
        rows = self.session.execute(
            _named(query)
            .where(
                MessageRow.id > after,
                MessageRow.id <= upto,
                MessageRow.direction == "in",
                _mine_or_nobodys(staff_id),
            )
            .order_by(MessageRow.id)
            .limit(LIMIT)
        ).all()
        return [
            (
                m.id,
                Notice(
                    "message",
                    f"m{m.id}",
                    conv,
                    client or UNKNOWN_CLIENT_NAME,
                    contact,
                    m.text,
                    m.created_at,
                ),
            )
            for m, conv, contact, client in rows
        ]

    def _at_risk(self, staff_id: str, after: int, upto: int) -> list[tuple[int, Notice]]:
        query = (
            select(
                CommitmentEventRow.id,
                CommitmentEventRow.at,
                ConversationRow.id,
                ContactRow.name,
                ClientRow.name,
            )
            .select_from(CommitmentEventRow)
            .join(CommitmentRow, CommitmentRow.id == CommitmentEventRow.commitment_id)
            .join(ConversationRow, ConversationRow.id == CommitmentRow.conversation_id)
        )
        rows = self.session.execute(
            _named(query)
            .where(
                CommitmentEventRow.id > after,
                CommitmentEventRow.id <= upto,
                CommitmentEventRow.state == "at_risk",
                ConversationRow.status == "open",
                _mine_or_nobodys(staff_id),
            )
            .order_by(CommitmentEventRow.id)
            .limit(LIMIT)
        ).all()
        return [
            (
                event_id,
                Notice(
                    "at_risk",
                    f"e{event_id}",
                    conv,
                    client or UNKNOWN_CLIENT_NAME,
                    contact,
                    "An answer is due soon.",
                    at,
                ),
            )
            for event_id, at, conv, contact, client in rows
        ]

    def _pages(self, staff_id: str, mark: Watermark) -> list[tuple[int, datetime, Notice]]:
        note = PageNotificationRow
        query = _named(
            select(
                note.id,
                note.sent_at,
                PageRow.id,
                PageRow.summary,
                ConversationRow.id,
                ContactRow.name,
                ClientRow.name,
            )
            .select_from(note)
            .join(PageRow, PageRow.id == note.page_id)
            .join(ConversationRow, ConversationRow.id == PageRow.conversation_id)
        ).where(note.staff_id == staff_id, note.state == SENT)
        if mark.page_sent_at is not None:
            query = query.where(
                or_(
                    note.sent_at > mark.page_sent_at,
                    and_(note.sent_at == mark.page_sent_at, note.id > mark.page_note_id),
                )
            )
        rows = self.session.execute(query.order_by(note.sent_at, note.id).limit(LIMIT)).all()
        return [
            (
                note_id,
                sent_at,
                Notice(
                    "page",
                    f"p{note_id}",
                    conv,
                    client or UNKNOWN_CLIENT_NAME,
                    contact,
                    summary or f"Page #{page_id}",
                    sent_at,
                ),
            )
            for note_id, sent_at, page_id, summary, conv, contact, client in rows
        ]
