"""What the promise reports read (routing/reports.py): commitments, pages with their
notifications, and after-hours acknowledgements of a period, as routing.reports records.

Each read is one query (two for pages), whatever the number of rows: the answering staff
member and whether a commitment is its conversation's first are correlated subqueries the
database answers from its indexes, never a query per row. `iter_commitments` streams.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from routing.reports import CommitmentFact, NotificationFact, PageFact
from storage.tables import (
    CommitmentRow,
    ConversationRow,
    MessageRow,
    PageNotificationRow,
    PageRow,
    StaffAccountRow,
)

# Rows fetched from the database at a time while streaming.
BATCH = 1000


def _started_in(a: datetime, b: datetime) -> ColumnElement[bool]:
    return and_(CommitmentRow.started_at >= a, CommitmentRow.started_at < b)


def commitments_query(
    a: datetime, b: datetime, client_ids: Collection[str] | None = None
) -> Select[tuple[object, ...]]:
    """Commitments started in [a, b), oldest first, with their conversation's client and
    channel, who answered, and whether each is its conversation's first."""
    earlier = aliased(CommitmentRow)
    is_first = ~exists().where(
        earlier.conversation_id == CommitmentRow.conversation_id,
        or_(
            earlier.started_at < CommitmentRow.started_at,
            and_(earlier.started_at == CommitmentRow.started_at, earlier.id < CommitmentRow.id),
        ),
    )
    # The answer is the staff message recorded at the instant the commitment was answered.
    answerer = (
        select(MessageRow.author_id)
        .where(
            MessageRow.conversation_id == CommitmentRow.conversation_id,
            MessageRow.direction == "out",
            MessageRow.created_at == CommitmentRow.answered_at,
        )
        .order_by(MessageRow.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            CommitmentRow.id,
            CommitmentRow.conversation_id,
            ConversationRow.client_id,
            CommitmentRow.tier,
            ConversationRow.channel,
            CommitmentRow.after_hours,
            CommitmentRow.started_at,
            CommitmentRow.due_at,
            CommitmentRow.answered_at,
            answerer.label("answered_by"),
            CommitmentRow.closed_at,
            is_first.label("first"),
        )
        .join(ConversationRow, ConversationRow.id == CommitmentRow.conversation_id)
        .where(_started_in(a, b))
        .order_by(CommitmentRow.started_at, CommitmentRow.id)
    )
    if client_ids is not None:
        query = query.where(ConversationRow.client_id.in_(list(client_ids)))
    return query


def _fact(row: Row[Any]) -> CommitmentFact:
    return CommitmentFact(
        id=row.id,
        conversation_id=row.conversation_id,
        client_id=row.client_id,
        tier=row.tier,
        channel=row.channel,
        after_hours=bool(row.after_hours),
        started_at=row.started_at,
        due_at=row.due_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        closed_at=row.closed_at,
        first=bool(row.first),
    )


class ReportReader:
    """Reads for the reports; never writes. Instants are aware (UTC) going in and out."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def iter_commitments(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> Iterator[CommitmentFact]:
        """Commitments started in [a, b), oldest first, streamed in batches of `BATCH`."""
        query = commitments_query(a, b, client_ids).execution_options(yield_per=BATCH)
        for row in self.session.execute(query):
            yield _fact(row)

    def commitments(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> list[CommitmentFact]:
        """As `iter_commitments`, all at once (no server-side cursor: the planner may use
        parallel workers, and the rows come in one round trip)."""
        return [_fact(row) for row in self.session.execute(commitments_query(a, b, client_ids))]

    def pages(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> list[PageFact]:
        """Pages opened in [a, b), and pages with a notification sent in it (someone on call
        was told of an older page), each with all its notifications; oldest first."""
        told = select(PageNotificationRow.page_id).where(
            PageNotificationRow.sent_at >= a, PageNotificationRow.sent_at < b
        )
        wanted = or_(and_(PageRow.opened_at >= a, PageRow.opened_at < b), PageRow.id.in_(told))
        if client_ids is not None:
            wanted = and_(wanted, PageRow.client_id.in_(list(client_ids)))
        page_ids = select(PageRow.id).where(wanted)
        notes: defaultdict[int, list[NotificationFact]] = defaultdict(list)
        for n in self.session.execute(
            select(
                PageNotificationRow.id,
                PageNotificationRow.page_id,
                PageNotificationRow.staff_id,
                PageNotificationRow.channel,
                PageNotificationRow.step,
                PageNotificationRow.due_at,
                PageNotificationRow.sent_at,
            )
            .where(PageNotificationRow.page_id.in_(page_ids))
            .order_by(PageNotificationRow.due_at, PageNotificationRow.id)
        ):
            notes[n.page_id].append(
                NotificationFact(
                    n.id, n.page_id, n.staff_id, n.channel, n.step, n.due_at, n.sent_at
                )
            )
        rows = self.session.execute(
            select(
                PageRow.id,
                PageRow.conversation_id,
                PageRow.client_id,
                PageRow.opened_at,
                PageRow.acknowledged_at,
                PageRow.acknowledged_by,
                PageRow.resolved_at,
                PageRow.step,
                PageRow.round,
            )
            .where(wanted)
            .order_by(PageRow.opened_at, PageRow.id)
        )
        return [
            PageFact(
                id=r.id,
                conversation_id=r.conversation_id,
                client_id=r.client_id,
                opened_at=r.opened_at,
                acknowledged_at=r.acknowledged_at,
                acknowledged_by=r.acknowledged_by,
                resolved_at=r.resolved_at,
                step=r.step,
                round=r.round,
                notifications=tuple(notes.get(r.id, ())),
            )
            for r in rows
        ]

    def acknowledgements(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> list[tuple[datetime, str | None]]:
        """When each after-hours acknowledgement was sent in [a, b), and to which client."""
        query = (
            select(MessageRow.created_at, ConversationRow.client_id)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(
                MessageRow.direction == "auto",
                MessageRow.created_at >= a,
                MessageRow.created_at < b,
            )
            .order_by(MessageRow.created_at)
        )
        if client_ids is not None:
            query = query.where(ConversationRow.client_id.in_(list(client_ids)))
        return [(r.created_at, r.client_id) for r in self.session.execute(query)]

    def staff_zones(self) -> dict[str, str]:
        """Each staff member's chosen zone (their inbox login's), where they chose one."""
        rows = self.session.execute(
            select(StaffAccountRow.staff_id, StaffAccountRow.timezone)
            .where(StaffAccountRow.timezone.is_not(None))
            .order_by(StaffAccountRow.id)
        )
        return {r.staff_id: r.timezone for r in rows}
