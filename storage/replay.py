"""What the what-if simulator replays from the history (bot/usecases/simulation): the client
messages of a period, each with when the agency first replied after it in its conversation
and, for a message whose commitment paged, when that page was acknowledged. Read only, in one
query, streamed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from storage.tables import CommitmentRow, ConversationRow, MessageRow, PageRow

BATCH = 1000


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    at: datetime  # UTC
    conversation_id: int
    client_id: str | None
    channel: str
    contact_name: str | None
    address: str  # the conversation's chat (the contact's address in a one-to-one chat)
    text: str
    answered_at: datetime | None  # the first agency reply after it in its conversation
    page_opened_at: datetime | None  # the page its commitment opened, if any
    page_acknowledged_at: datetime | None


class RecordedTraffic:
    def __init__(self, session: Session) -> None:
        self.session = session

    def client_messages(self, a: datetime, b: datetime) -> Iterator[RecordedMessage]:
        """Client messages received in [a, b), oldest first."""
        reply = aliased(MessageRow)
        answered = (
            select(func.min(reply.created_at))
            .where(
                reply.conversation_id == MessageRow.conversation_id,
                reply.direction == "out",
                reply.created_at > MessageRow.created_at,
            )
            .correlate(MessageRow)
            .scalar_subquery()
        )
        query = (
            select(
                MessageRow.created_at,
                MessageRow.conversation_id,
                ConversationRow.client_id,
                MessageRow.channel,
                MessageRow.author_name,
                ConversationRow.chat_id,
                MessageRow.text,
                answered,
                PageRow.opened_at,
                PageRow.acknowledged_at,
            )
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .outerjoin(CommitmentRow, CommitmentRow.trigger_message_id == MessageRow.id)
            .outerjoin(PageRow, and_(PageRow.commitment_id == CommitmentRow.id))
            .where(
                MessageRow.direction == "in",
                MessageRow.created_at >= a,
                MessageRow.created_at < b,
            )
            .order_by(MessageRow.created_at, MessageRow.id)
            .execution_options(yield_per=BATCH)
        )
        for row in self.session.execute(query):
            yield RecordedMessage(
                at=_utc(row[0]),
                conversation_id=row[1],
                client_id=row[2],
                channel=row[3],
                contact_name=row[4],
                address=row[5],
                text=row[6] or "",
                answered_at=_utc(row[7]) if row[7] is not None else None,
                page_opened_at=_utc(row[8]) if row[8] is not None else None,
                page_acknowledged_at=_utc(row[9]) if row[9] is not None else None,
            )


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
