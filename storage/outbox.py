"""The outbox: messages to send, claimed by workers, retried with backoff, never lost.

Rows are written in the transaction that caused them (storage.unit_of_work). The worker
claims due rows with a lease: on PostgreSQL with FOR UPDATE SKIP LOCKED so that several
workers never take the same row; a worker that dies mid-send leaves a lease that runs out,
and the row is claimed again (at-least-once: providers give us no idempotency key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from routing.messages import Channel, Delivery
from storage.tables import MessageRow, OutboxRow

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    channel: Channel
    recipient: str
    payload: dict[str, Any]
    attempts: int
    message_id: int | None
    created_at: datetime
    # Claimed from a dead worker's lease: the last try may have reached the provider.
    uncertain: bool = False


class Outbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        kind: str,
        channel: Channel,
        recipient: str,
        payload: dict[str, Any],
        at: datetime,
        message_id: int | None = None,
    ) -> int:
        row = OutboxRow(
            kind=kind,
            channel=channel.value,
            recipient=recipient,
            payload=payload,
            message_id=message_id,
            state=PENDING,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def _claimable(self, now: datetime) -> Any:
        return or_(
            (OutboxRow.state == PENDING) & (OutboxRow.next_attempt_at <= now),
            (OutboxRow.state == SENDING) & (OutboxRow.locked_until <= now),
        )

    def claim(self, now: datetime, lease: timedelta, limit: int = 10) -> list[OutboxItem]:
        """Take up to `limit` due rows for this worker; the caller commits at once."""
        query = (
            select(OutboxRow)
            .where(self._claimable(now))
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = self.session.execute(query).scalars().all()
        items = []
        for row in rows:
            uncertain = row.state == SENDING
            row.state = SENDING
            row.attempts += 1
            row.locked_until = now + lease
            items.append(
                OutboxItem(
                    id=row.id,
                    kind=row.kind,
                    channel=Channel(row.channel),
                    recipient=row.recipient,
                    payload=dict(row.payload),
                    attempts=row.attempts,
                    message_id=row.message_id,
                    created_at=row.created_at,
                    uncertain=uncertain,
                )
            )
        self.session.flush()
        return items

    def mark_sent(self, item: OutboxItem, provider_id: str | None, now: datetime) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id)
            .values(state=SENT, provider_id=provider_id, sent_at=now, locked_until=None)
        )
        if item.message_id is not None:
            self.session.execute(
                update(MessageRow)
                .where(MessageRow.id == item.message_id)
                .values(provider_id=provider_id)
            )
            self.session.execute(
                update(MessageRow)
                .where(
                    MessageRow.id == item.message_id,
                    MessageRow.delivery == Delivery.QUEUED.value,
                )
                .values(delivery=Delivery.SENT.value)
            )

    def mark_retry(self, item: OutboxItem, error: str, next_attempt_at: datetime) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id)
            .values(
                state=PENDING,
                last_error=error[:500],
                next_attempt_at=next_attempt_at,
                locked_until=None,
            )
        )

    def mark_failed(self, item: OutboxItem, error: str) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id)
            .values(state=FAILED, last_error=error[:500], locked_until=None)
        )
        if item.message_id is not None:
            self.session.execute(
                update(MessageRow)
                .where(MessageRow.id == item.message_id)
                .values(delivery=Delivery.FAILED.value, error=error[:500])
            )

    def next_due_at(self) -> datetime | None:
        """When the next row becomes claimable, so the worker can sleep until then."""
        pending = self.session.execute(
            select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.state == PENDING)
        ).scalar_one_or_none()
        stale = self.session.execute(
            select(func.min(OutboxRow.locked_until)).where(OutboxRow.state == SENDING)
        ).scalar_one_or_none()
        candidates = [t for t in (pending, stale) if t is not None]
        return min(candidates) if candidates else None

    def depth(self, now: datetime) -> tuple[int, float]:
        """Rows not yet sent, and the age in seconds of the oldest (for /metrics)."""
        count, oldest = self.session.execute(
            select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
                OutboxRow.state.in_((PENDING, SENDING))
            )
        ).one()
        if oldest is None:
            return int(count), 0.0
        return int(count), max(0.0, (now - oldest).total_seconds())
