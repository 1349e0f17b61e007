"""What the inbox reads: the list under its filters, each row's last message, a page's pages.

The list extends the conversations repository with the inbox's own views ("mine",
"unassigned", ...) on top of the API's filters; it keeps that repository's orderings and
cursors so that the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, func, or_, select

from routing.commitments import Commitment
from storage.conversations import (
    ConversationRepository,
    ConversationView,
    MessageView,
    _cursor_parts,
    encode_cursor,
    message_view,
)
from storage.tables import (
    ClientRow,
    ContactRow,
    ConversationRow,
    MessageRow,
    PageNotificationRow,
    PageRow,
)
from storage.unit_of_work import UnitOfWork

VIEWS = ("open", "mine", "unassigned", "at_risk", "breached", "closed", "all")
VIEW_LABELS = {
    "open": "Open",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "at_risk": "At risk",
    "breached": "Breached",
    "closed": "Closed",
    "all": "All",
}
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class InboxFilter:
    view: str = "open"
    client: str | None = None
    channel: str | None = None
    q: str | None = None

    def query_string(self, **changes: Any) -> str:
        """The URL query of this filter with some values changed (for links and forms)."""
        values = {"view": self.view, "client": self.client, "channel": self.channel, "q": self.q}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True, slots=True)
class InboxRow:
    conversation: ConversationView
    commitment: Commitment | None
    last_message: MessageView | None


@dataclass(frozen=True, slots=True)
class PageEntry:
    id: int
    conversation_id: int
    state: str
    step: int
    summary: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    notifications: list[dict[str, Any]] = field(default_factory=list)


class InboxQueries(ConversationRepository):
    @staticmethod
    def _due_order(query: Any, cursor: str | None) -> Any:
        """Soonest due first, no due time last: the repository's order and cursor, written as
        `due_at NULLS LAST, id` so that an index on (status, due_at, id) can serve it."""
        due_col = ConversationRow.due_at
        if cursor:
            _, due_iso, last_id = _cursor_parts(cursor, "due")
            if due_iso is None:  # already among the conversations with no due time
                query = query.where(due_col.is_(None), ConversationRow.id > last_id)
            else:
                due = datetime.fromisoformat(due_iso)
                query = query.where(
                    or_(
                        due_col > due,
                        and_(due_col == due, ConversationRow.id > last_id),
                        due_col.is_(None),
                    )
                )
        return query.order_by(due_col.asc().nulls_last(), ConversationRow.id)

    def inbox(
        self, filters: InboxFilter, staff_id: str, limit: int = PAGE_SIZE, cursor: str | None = None
    ) -> tuple[list[ConversationView], str | None]:
        query, identity = self._base_query()
        view = filters.view
        if view in ("open", "mine", "unassigned", "at_risk", "breached"):
            query = query.where(ConversationRow.status == "open")
        elif view == "closed":
            query = query.where(ConversationRow.status == "closed")
        if view == "mine":
            query = query.where(ConversationRow.assignee == staff_id)
        elif view == "unassigned":
            query = query.where(ConversationRow.assignee.is_(None))
        elif view in ("at_risk", "breached"):
            query = query.where(ConversationRow.commitment_state == view)
        if filters.client:
            if filters.client == "-":  # unknown senders
                query = query.where(ConversationRow.client_id.is_(None))
            else:
                query = query.where(ConversationRow.client_id == filters.client)
        if filters.channel:
            query = query.where(ConversationRow.channel == filters.channel)
        if filters.q:
            pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", r"\%") + "%"
            matches_text = (
                select(MessageRow.id)
                .where(
                    MessageRow.conversation_id == ConversationRow.id,
                    MessageRow.text.ilike(pattern, escape="\\"),
                )
                .exists()
            )
            query = query.where(
                or_(
                    ClientRow.name.ilike(pattern, escape="\\"),
                    ContactRow.name.ilike(pattern, escape="\\"),
                    identity.address.ilike(pattern, escape="\\"),
                    matches_text,
                )
            )
        # What needs an answer first; a closed list reads newest first.
        by_due = view != "closed"
        query = self._due_order(query, cursor) if by_due else self._updated_order(query, cursor)
        rows = self.session.execute(query.limit(limit + 1)).all()
        views = [self._view(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = views[-1]
            if by_due:
                due = last.due_at.isoformat() if last.due_at else None
                next_cursor = encode_cursor(["due", due, last.id])
            else:
                next_cursor = encode_cursor(["updated", last.updated_at.isoformat(), last.id])
        return views, next_cursor

    def last_messages(self, conversation_ids: list[int]) -> dict[int, MessageView]:
        """The newest client-visible or note message of each conversation."""
        if not conversation_ids:
            return {}
        newest = (
            select(func.max(MessageRow.id))
            .where(MessageRow.conversation_id.in_(conversation_ids))
            .group_by(MessageRow.conversation_id)
        )
        rows = self.session.execute(select(MessageRow).where(MessageRow.id.in_(newest))).scalars()
        return {r.conversation_id: message_view(r) for r in rows}

    def pages(
        self, *, conversation_id: int | None = None, state: str | None = None, limit: int = 100
    ) -> list[PageEntry]:
        query = select(PageRow).order_by(PageRow.opened_at.desc(), PageRow.id.desc()).limit(limit)
        if conversation_id is not None:
            query = query.where(PageRow.conversation_id == conversation_id)
        if state is not None:
            query = query.where(PageRow.state == state)
        pages = list(self.session.execute(query).scalars())
        notes: dict[int, list[dict[str, Any]]] = {p.id: [] for p in pages}
        if pages:
            for n in self.session.execute(
                select(PageNotificationRow)
                .where(PageNotificationRow.page_id.in_(list(notes)))
                .order_by(PageNotificationRow.due_at, PageNotificationRow.id)
            ).scalars():
                notes[n.page_id].append(
                    {
                        "staff": n.staff_id,
                        "channel": n.channel,
                        "step": n.step,
                        "at": n.sent_at or n.due_at,
                        "state": n.state,
                    }
                )
        return [
            PageEntry(
                id=p.id,
                conversation_id=p.conversation_id,
                state=p.state,
                step=p.step,
                summary=p.summary,
                opened_at=p.opened_at,
                acknowledged_at=p.acknowledged_at,
                acknowledged_by=p.acknowledged_by,
                resolved_at=p.resolved_at,
                notifications=notes[p.id],
            )
            for p in pages
        ]


def inbox_queries(uow: UnitOfWork) -> InboxQueries:
    return InboxQueries(uow.session)
