"""One conversation's timeline: messages, the promise's changes, pages, in the order they came."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.http.web.inbox_query import PageEntry
from routing.commitments import Commitment, Event
from storage.conversations import ConversationEvent, MessageView

_EVENT_TEXT = {
    "pending": "Promise started",
    "at_risk": "Promise at risk",
    "breached": "Promise breached",
    "met": "Answered in time",
    "answered": "Answered (late)",
    "unanswered": "Closed without an answer",
}


@dataclass(frozen=True, slots=True)
class TimelineItem:
    kind: str  # message | commitment | page | activity
    at: datetime
    message: MessageView | None = None
    text: str = ""
    state: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _edits(message: MessageView) -> dict[str, Any]:
    """A client's edits of the message: its earlier texts, each with when it was replaced."""
    if not message.edits:
        return {}
    return {
        "edits": [
            {"text": e.get("text"), "at": datetime.fromisoformat(str(e["at"]))}
            for e in message.edits
        ]
    }


def build_timeline(
    messages: list[MessageView],
    history: list[tuple[Commitment, list[Event]]],
    pages: list[PageEntry],
    staff_names: Mapping[str, str],
    activity: Sequence[ConversationEvent] = (),
) -> list[TimelineItem]:
    items = [
        TimelineItem(kind="message", at=m.created_at, message=m, details=_edits(m))
        for m in messages
    ]
    for commitment, events in history:
        for event in events:
            state = str(event.state)
            details: dict[str, Any] = {"tier": commitment.tier}
            if state == "pending":
                details["due_at"] = commitment.due_at
                details["after_hours"] = commitment.after_hours
            items.append(
                TimelineItem(
                    kind="commitment",
                    at=event.at,
                    text=_EVENT_TEXT.get(state, state),
                    state=state,
                    details=details,
                )
            )
    for page in pages:
        notified = [
            {**n, "name": staff_names.get(n["staff"], n["staff"])}
            for n in page.notifications
            if n["state"] != "cancelled"
        ]
        items.append(
            TimelineItem(
                kind="page",
                at=page.opened_at,
                text=f"Page #{page.id} opened" + _notified_text(notified),
                state=page.state,
                details={"page": page, "notified": notified},
            )
        )
        if page.acknowledged_at is not None:
            who = page.acknowledged_by or "?"
            items.append(
                TimelineItem(
                    kind="page",
                    at=page.acknowledged_at,
                    text=f"Page #{page.id} acknowledged by {staff_names.get(who, who)}",
                    state="acknowledged",
                    details={"page": page},
                )
            )
        if page.resolved_at is not None:
            items.append(
                TimelineItem(
                    kind="page",
                    at=page.resolved_at,
                    text=f"Page #{page.id} resolved",
                    state="resolved",
                    details={"page": page},
                )
            )
    for change in activity:
        items.append(
            TimelineItem(kind="activity", at=change.at, text=_activity_text(change, staff_names))
        )
    order = {"message": 0, "commitment": 1, "page": 2, "activity": 3}
    items.sort(key=lambda i: (i.at, order[i.kind], i.message.id if i.message else 0))
    return items


_BY = {"sms": "by SMS", "voice": "by phone call", "telegram": "on Telegram", "slack": "on Slack"}


def _notified_text(notified: Sequence[Mapping[str, Any]]) -> str:
    """The page line's end, ": notified Ana Ortiz on Telegram and Raj Patel by SMS", or ""."""
    if not notified:
        return ""
    parts = [
        f"{n['name']} {_BY.get(n['channel'], 'on ' + str(n['channel']))}"
        + (" (scheduled)" if n["state"] == "scheduled" else "")
        for n in notified
    ]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return ": notified " + listed


def _activity_text(event: ConversationEvent, names: Mapping[str, str]) -> str:
    by = names.get(event.actor, "the admin token" if event.actor == "admin" else event.actor)
    if event.kind == "assigned":
        if event.assignee is None:
            return f"Unassigned by {by}"
        return f"Assigned to {names.get(event.assignee, event.assignee)} by {by}"
    if event.kind in _CONTACT_CHANGES:  # bot/usecases/contacts.py
        return f"{_CONTACT_CHANGES[event.kind]} by {by}"
    return f"{event.kind.capitalize()} by {by}"


_CONTACT_CHANGES = {
    "linked": "Linked to a client",
    "merged": "Its contact merged into one person",
}
