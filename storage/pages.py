"""Escalation pages and the notifications they send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from routing.messages import Channel
from storage.tables import OutboxRow, PageNotificationRow, PageRow
from storage.upsert import insert_ignore

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
PAGE_KIND = "page"  # the outbox kind of a page message (bot/usecases/paging.py)
SCHEDULED, SENT, CANCELLED = "scheduled", "sent", "cancelled"


@dataclass(frozen=True, slots=True)
class PageRecord:
    id: int
    conversation_id: int
    commitment_id: int | None
    client_id: str | None
    state: str
    step: int
    round: int
    policy: dict[str, Any]
    summary: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    page_id: int
    staff_id: str
    channel: str
    step: int
    due_at: datetime
    state: str
    sent_at: datetime | None
    delivery: str | None = None


@dataclass(frozen=True, slots=True)
class SentPageMessage:
    """A page message a chat channel accepted: where it went, the provider's id for it, and
    what it said. One message may tell of several pages (coalesced, bot/usecases/paging.py); the
    first of `page_ids` is `page_id`, the page its Telegram button acknowledges."""

    recipient: str
    provider_id: str
    text: str
    page_id: int | None
    page_ids: tuple[int, ...]


def _sent_page_message(
    recipient: str, provider_id: str, payload: dict[str, Any]
) -> SentPageMessage:
    first = payload.get("page_id")
    ids = payload.get("page_ids") or [first]
    return SentPageMessage(
        recipient=recipient,
        provider_id=provider_id,
        text=str(payload.get("text") or ""),
        page_id=int(first) if first is not None else None,
        page_ids=tuple(int(i) for i in ids if i is not None),
    )


def _page(row: PageRow) -> PageRecord:
    return PageRecord(
        row.id,
        row.conversation_id,
        row.commitment_id,
        row.client_id,
        row.state,
        row.step,
        row.round,
        dict(row.policy),
        row.summary,
        row.opened_at,
        row.acknowledged_at,
        row.acknowledged_by,
        row.resolved_at,
    )


def _note(row: PageNotificationRow, delivery: str | None = None) -> NotificationRecord:
    return NotificationRecord(
        row.id,
        row.page_id,
        row.staff_id,
        row.channel,
        row.step,
        row.due_at,
        row.state,
        row.sent_at,
        delivery,
    )


class PageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ pages
    def open(
        self,
        *,
        conversation_id: int,
        commitment_id: int | None,
        client_id: str | None,
        policy: dict[str, Any],
        summary: str,
        at: datetime,
    ) -> int | None:
        """A new open page, or None if the conversation has one open already."""
        return insert_ignore(
            self.session,
            PageRow.__table__,
            {
                "conversation_id": conversation_id,
                "commitment_id": commitment_id,
                "client_id": client_id,
                "state": OPEN,
                "step": 0,
                "round": 0,
                "policy": policy,
                "summary": summary,
                "opened_at": at,
            },
        )

    def get(self, page_id: int, *, lock: bool = False) -> PageRecord | None:
        query = select(PageRow).where(PageRow.id == page_id)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        return None if row is None else _page(row)

    def unresolved_for_conversation(self, conversation_id: int) -> PageRecord | None:
        row = self.session.execute(
            select(PageRow)
            .where(PageRow.conversation_id == conversation_id, PageRow.state != RESOLVED)
            .order_by(PageRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if row is None else _page(row)

    def set_position(self, page_id: int, step: int, round_: int) -> None:
        self.session.execute(
            update(PageRow).where(PageRow.id == page_id).values(step=step, round=round_)
        )

    def acknowledge(self, page_id: int, staff_id: str, at: datetime) -> bool:
        """True if this call acknowledged it; False if it was not open any more."""
        result = self.session.execute(
            update(PageRow)
            .where(PageRow.id == page_id, PageRow.state == OPEN)
            .values(state=ACKNOWLEDGED, acknowledged_by=staff_id, acknowledged_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult

    def resolve(self, page_id: int, at: datetime) -> None:
        self.session.execute(
            update(PageRow)
            .where(PageRow.id == page_id, PageRow.state != RESOLVED)
            .values(state=RESOLVED, resolved_at=at)
        )

    def latest_for_staff(self, staff_id: str, states: tuple[str, ...]) -> PageRecord | None:
        """The page this person was most recently notified of, among those in `states`."""
        row = self.session.execute(
            select(PageRow)
            .join(PageNotificationRow, PageNotificationRow.page_id == PageRow.id)
            .where(PageNotificationRow.staff_id == staff_id, PageRow.state.in_(states))
            .order_by(PageNotificationRow.due_at.desc(), PageRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if row is None else _page(row)

    def was_notified(self, page_id: int, staff_id: str) -> bool:
        return (
            self.session.execute(
                select(PageNotificationRow.id).where(
                    PageNotificationRow.page_id == page_id,
                    PageNotificationRow.staff_id == staff_id,
                )
            ).first()
            is not None
        )

    def recent(
        self, *, conversation_id: int | None = None, state: str | None = None, limit: int = 100
    ) -> list[PageRecord]:
        """Newest opened first, as the inbox shows them (`list` pages the API by id)."""
        query = select(PageRow).order_by(PageRow.opened_at.desc(), PageRow.id.desc()).limit(limit)
        if conversation_id is not None:
            query = query.where(PageRow.conversation_id == conversation_id)
        if state is not None:
            query = query.where(PageRow.state == state)
        return [_page(r) for r in self.session.execute(query).scalars()]

    def listing(
        self, state: str | None, limit: int, before_id: int | None = None
    ) -> list[PageRecord]:
        query = select(PageRow).order_by(PageRow.id.desc()).limit(limit)
        if state:
            query = query.where(PageRow.state == state)
        if before_id is not None:
            query = query.where(PageRow.id < before_id)
        return [_page(r) for r in self.session.execute(query).scalars()]

    # ------------------------------------------------------------------ notifications
    def schedule_notification(
        self, *, key: str, page_id: int, staff_id: str, channel: str, step: int, due_at: datetime
    ) -> int | None:
        return insert_ignore(
            self.session,
            PageNotificationRow.__table__,
            {
                "key": key,
                "page_id": page_id,
                "staff_id": staff_id,
                "channel": channel,
                "step": step,
                "due_at": due_at,
                "state": SCHEDULED,
            },
        )

    def notification(self, note_id: int, *, lock: bool = False) -> NotificationRecord | None:
        query = select(PageNotificationRow).where(PageNotificationRow.id == note_id)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        return None if row is None else _note(row)

    def due_notifications(
        self, staff_id: str, channel: str, now: datetime
    ) -> list[NotificationRecord]:
        """Scheduled notifications for one person and channel that may go out now, of pages
        still open."""
        rows = self.session.execute(
            select(PageNotificationRow)
            .join(PageRow, PageRow.id == PageNotificationRow.page_id)
            .where(
                PageNotificationRow.staff_id == staff_id,
                PageNotificationRow.channel == channel,
                PageNotificationRow.state == SCHEDULED,
                PageNotificationRow.due_at <= now,
                PageRow.state == OPEN,
            )
            .order_by(PageNotificationRow.page_id)
            # The notifications only: locking their pages too would take page and
            # notification locks in the opposite order to a reply resolving the page.
            .with_for_update(of=PageNotificationRow)
        ).scalars()
        return [_note(r) for r in rows]

    def last_sent(self, staff_id: str, channel: str) -> datetime | None:
        return self.session.execute(
            select(func.max(PageNotificationRow.sent_at)).where(
                PageNotificationRow.staff_id == staff_id,
                PageNotificationRow.channel == channel,
                PageNotificationRow.state == SENT,
            )
        ).scalar_one_or_none()

    def mark_sent(self, note_ids: list[int], outbox_id: int, at: datetime) -> None:
        self.session.execute(
            update(PageNotificationRow)
            .where(PageNotificationRow.id.in_(note_ids))
            .values(state=SENT, sent_at=at, outbox_id=outbox_id)
        )

    def cancel_scheduled(self, page_id: int) -> None:
        self.session.execute(
            update(PageNotificationRow)
            .where(PageNotificationRow.page_id == page_id, PageNotificationRow.state == SCHEDULED)
            .values(state=CANCELLED)
        )

    # ------------------------------------------------------------------ its chat messages
    def sent_chat_messages(self, page_id: int, channel: Channel) -> Sequence[SentPageMessage]:
        """The page's messages `channel` accepted, newest first: the outbox rows its
        notifications were sent with (`page_notifications.outbox_id`), however old."""
        sent_with = select(PageNotificationRow.outbox_id).where(
            PageNotificationRow.page_id == page_id, PageNotificationRow.outbox_id.is_not(None)
        )
        rows = self.session.execute(
            select(OutboxRow.recipient, OutboxRow.provider_id, OutboxRow.payload)
            .where(
                OutboxRow.id.in_(sent_with),
                OutboxRow.channel == channel.value,
                OutboxRow.kind == PAGE_KIND,
                OutboxRow.provider_id.is_not(None),
            )
            .order_by(OutboxRow.id.desc())
        ).all()
        return [_sent_page_message(r, str(p), dict(payload or {})) for r, p, payload in rows]

    def page_of_sent_message(
        self, channel: Channel, recipient: str, provider_id: str
    ) -> int | None:
        """The page whose button a page message sent to `recipient` carries (its first page),
        found by the provider's id for the message; None if it is no page message."""
        payload = self.session.execute(
            select(OutboxRow.payload).where(
                OutboxRow.channel == channel.value,
                OutboxRow.kind == PAGE_KIND,
                OutboxRow.recipient == recipient,
                OutboxRow.provider_id == provider_id,
            )
        ).scalar_one_or_none()
        if not payload or payload.get("page_id") is None:
            return None
        return int(payload["page_id"])

    def notifications_of(self, page_ids: list[int]) -> dict[int, list[NotificationRecord]]:
        found: dict[int, list[NotificationRecord]] = {pid: [] for pid in page_ids}
        if not page_ids:
            return found
        rows = self.session.execute(
            select(PageNotificationRow, OutboxRow.state)
            .outerjoin(OutboxRow, OutboxRow.id == PageNotificationRow.outbox_id)
            .where(PageNotificationRow.page_id.in_(page_ids))
            .order_by(PageNotificationRow.due_at, PageNotificationRow.id)
        ).all()
        for row, outbox_state in rows:
            found[row.page_id].append(_note(row, outbox_state))
        return found
