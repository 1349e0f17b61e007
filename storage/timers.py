"""Durable timers: rows with a due time, fired by the worker in the same transaction as
what they cause, so firing is exactly-once for everything the database holds.

Keys make scheduling idempotent: scheduling "commitment:7:breach" twice keeps one timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.tables import TimerRow
from storage.upsert import insert_ignore

PENDING, DONE, CANCELLED, FAILED = "pending", "done", "cancelled", "failed"


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


class Timers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def schedule(
        self, key: str, kind: str, due_at: datetime, at: datetime, payload: dict[str, Any]
    ) -> bool:
        """Schedule once per key; False if a timer with that key exists already."""
        row_id = insert_ignore(
            self.session,
            TimerRow.__table__,
            {
                "key": key,
                "kind": kind,
                "due_at": due_at,
                "payload": payload,
                "state": PENDING,
                "attempts": 0,
                "created_at": at,
            },
        )
        return row_id is not None

    def cancel(self, key: str) -> None:
        self.session.execute(
            update(TimerRow)
            .where(TimerRow.key == key, TimerRow.state == PENDING)
            .values(state=CANCELLED)
        )

    def cancel_prefix(self, prefix: str) -> None:
        self.session.execute(
            update(TimerRow)
            .where(TimerRow.key.startswith(prefix, autoescape=True), TimerRow.state == PENDING)
            .values(state=CANCELLED)
        )

    def claim_due(self, now: datetime) -> Timer | None:
        """Lock the most overdue pending timer for this transaction (SKIP LOCKED on PostgreSQL)."""
        query = (
            select(TimerRow)
            .where(TimerRow.state == PENDING, TimerRow.due_at <= now)
            .order_by(TimerRow.due_at, TimerRow.id)
            .limit(1)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = self.session.execute(query).scalar_one_or_none()
        if row is None:
            return None
        return Timer(row.id, row.key, row.kind, row.due_at, dict(row.payload), row.attempts)

    def mark_done(self, timer: Timer, now: datetime) -> None:
        self.session.execute(
            update(TimerRow).where(TimerRow.id == timer.id).values(state=DONE, fired_at=now)
        )

    def mark_error(self, timer: Timer, error: str, retry_at: datetime | None) -> None:
        """After a handler failed (in a fresh transaction): try later, or give up."""
        values: dict[str, Any] = {"attempts": timer.attempts + 1, "last_error": error[:500]}
        if retry_at is None:
            values["state"] = FAILED
        else:
            values["due_at"] = retry_at
        self.session.execute(update(TimerRow).where(TimerRow.id == timer.id).values(**values))

    def next_due_at(self) -> datetime | None:
        value = self.session.execute(
            select(func.min(TimerRow.due_at)).where(TimerRow.state == PENDING)
        ).scalar_one_or_none()
        return value

    def pending(self, prefix: str = "") -> list[Timer]:
        rows = self.session.execute(
            select(TimerRow)
            .where(TimerRow.state == PENDING, TimerRow.key.startswith(prefix, autoescape=True))
            .order_by(TimerRow.due_at)
        ).scalars()
        return [Timer(r.id, r.key, r.kind, r.due_at, dict(r.payload), r.attempts) for r in rows]
