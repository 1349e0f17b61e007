"""What the inbox reads: the list under its filters, each row's last message, a page's pages.

The queries are the repositories' (storage/conversations.py, storage/pages.py); this maps the
inbox's own views ("mine", "unassigned", ...) onto the conversation list's filters, so that
the inbox keeps the API's orderings and cursors and the two cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from routing.commitments import Commitment
from storage.conversations import ConversationFilter, ConversationView, MessageView
from storage.read_markers import UnreadCounts
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
PREVIEW_DIRECTIONS = ("in", "out")  # what a row of the list previews


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
    unread: bool = False  # for the staff member reading the list (storage/read_markers.py)


@dataclass(frozen=True, slots=True)
class PageAbout:
    """What a page is about, read from its stored summary (JSON written by
    bot.usecases.paging.open_page): who wrote, on which channel, what, and when a reply is due."""

    client: str = ""
    contact: str = ""
    channel: str = ""
    text: str = ""
    due_at: datetime | None = None


def page_about(summary: str) -> PageAbout:
    """The summary's fields; a summary that is not such JSON is shown as its text."""
    try:
        data = json.loads(summary) if summary.startswith("{") else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return PageAbout(text=summary)
    try:
        due = datetime.fromisoformat(str(data["due_at"])) if data.get("due_at") else None
    except ValueError:
        due = None
    return PageAbout(
        client=str(data.get("client") or ""),
        contact=str(data.get("contact") or ""),
        channel=str(data.get("channel") or ""),
        text=str(data.get("text") or ""),
        due_at=due,
    )


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

    @property
    def about(self) -> PageAbout:
        return page_about(self.summary)


class InboxQueries:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

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
        return self.uow.conversations.listing(conditions, limit, cursor, sort)

    def unread_among(self, staff_id: str, conversation_ids: list[int]) -> set[int]:
        return self.uow.read_markers.unread_among(staff_id, conversation_ids)

    def unread_counts(self, filters: InboxFilter, staff_id: str) -> UnreadCounts:
        """Unread conversations for `staff_id` on each view, under the list's other filters."""
        among = None
        if filters.client or filters.channel or filters.q:
            among = self.uow.conversations.matching(
                ConversationFilter(client=filters.client, channel=filters.channel, q=filters.q)
            )
        return self.uow.read_markers.unread_counts(staff_id, among)

    def last_messages(self, conversation_ids: list[int]) -> dict[int, MessageView]:
        """Each row's headline: what the client wrote last, or the staff reply if newer; never
        the bot's acknowledgement (after hours it would hide the client's words) or a note."""
        return self.uow.conversations.last_messages(conversation_ids, PREVIEW_DIRECTIONS)

    def pages(
        self, *, conversation_id: int | None = None, state: str | None = None, limit: int = 100
    ) -> list[PageEntry]:
        """Newest opened first, each with whom it notified, when and how."""
        pages = self.uow.pages.recent(conversation_id=conversation_id, state=state, limit=limit)
        notes = self.uow.pages.notifications_of([p.id for p in pages])
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
                notifications=[
                    {
                        "staff": n.staff_id,
                        "channel": n.channel,
                        "step": n.step,
                        "at": n.sent_at or n.due_at,
                        "state": n.state,
                    }
                    for n in notes[p.id]
                ],
            )
            for p in pages
        ]


def inbox_queries(uow: UnitOfWork) -> InboxQueries:
    return InboxQueries(uow)
