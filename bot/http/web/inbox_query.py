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

from sqlalchemy import func, select

from routing.commitments import Commitment
from storage.conversations import (
    ConversationFilter,
    ConversationRepository,
    ConversationView,
    MessageView,
    message_view,
)
from storage.tables import (
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
    def inbox(
        self, filters: InboxFilter, staff_id: str, limit: int = PAGE_SIZE, cursor: str | None = None
    ) -> tuple[list[ConversationView], str | None]:
        """The repository's list under one of the inbox's views: what needs an answer first;
        a closed list reads newest first."""
        view = filters.view
        status = {"closed": "closed", "all": None}.get(view, "open")
        conditions = ConversationFilter(
            status=status,
            state=view if view in ("at_risk", "breached") else None,
            client=filters.client,
            channel=filters.channel,
            assignee=staff_id if view == "mine" else None,
            unassigned=view == "unassigned",
            q=filters.q,
        )
        sort = "updated" if view == "closed" else "due_at"
        return self.list(conditions, limit, cursor, sort)

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
