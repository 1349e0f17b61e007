"""When the worker next has something to do, in one short read.

An idle worker asks this every few hundred milliseconds (work committed by another process
cannot wake it), so it is one statement over the three queues rather than a query each:
the journal (storage/inbound.py), the timers (storage/timers.py) and the outbox
(storage/outbox.py), each with the same "due" rule as the claim that takes its rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, null, select, type_coerce
from sqlalchemy.orm import Session

from storage import inbound, outbox, timers
from storage.db import execute
from storage.tables import InboundDeliveryRow, OutboxRow, TimerRow
from storage.types import UTCDateTime


def _statement(job_kinds: Collection[str]) -> Any:
    """The look, with the timers of `job_kinds` (jobs, which the worker claims apart and runs
    a bounded number of at once) told apart from the other timers."""
    timers_due = select(func.min(TimerRow.due_at)).where(TimerRow.state == timers.PENDING)
    jobs_due: Any = null()
    if job_kinds:
        jobs_due = timers_due.where(TimerRow.kind.in_(sorted(job_kinds))).scalar_subquery()
        timers_due = timers_due.where(TimerRow.kind.not_in(sorted(job_kinds)))
    return select(
        # A journalled delivery: at once, or after a failed attempt at its retry time.
        select(
            func.min(
                func.coalesce(InboundDeliveryRow.next_attempt_at, InboundDeliveryRow.received_at),
                type_=UTCDateTime(),
            )
        )
        .where(InboundDeliveryRow.state == inbound.PENDING)
        .scalar_subquery(),
        timers_due.scalar_subquery(),
        # Outbox rows first in line to their recipient: pending ones when due, claimed ones
        # when their lease runs out. A row waiting behind another does not count.
        select(func.min(OutboxRow.next_attempt_at))
        .where(OutboxRow.state == outbox.PENDING, outbox.FIRST_IN_LINE)
        .scalar_subquery(),
        select(func.min(OutboxRow.locked_until))
        .where(OutboxRow.state == outbox.SENDING, outbox.FIRST_IN_LINE)
        .scalar_subquery(),
        type_coerce(jobs_due, UTCDateTime()),
    )


_NEXT_DUE = _statement(())


@dataclass(frozen=True, slots=True)
class Due:
    """When each queue next has something due (None: nothing waits in it)."""

    inbound: datetime | None
    timers: datetime | None  # jobs too, unless the look was told their kinds
    outbox: datetime | None
    jobs: datetime | None = None  # when told their kinds

    def by(self, now: datetime) -> Due:
        """Only what is due by `now`."""
        return Due(*(t if t is not None and t <= now else None for t in self._times()))

    @property
    def earliest(self) -> datetime | None:
        found = [t for t in self._times() if t is not None]
        return min(found) if found else None

    def _times(self) -> tuple[datetime | None, ...]:
        return (self.inbound, self.timers, self.outbox, self.jobs)


def _due(row: Any) -> Due:
    inbound_at, timers_at, pending_at, leased_at, jobs_at = row
    outbox_at = min((t for t in (pending_at, leased_at) if t is not None), default=None)
    return Due(inbound_at, timers_at, outbox_at, jobs_at)


def next_due(session: Session) -> datetime | None:
    """The earliest time at which a delivery, a timer or an outbox row becomes due (perhaps
    already past), or None when nothing waits."""
    return _due(session.execute(_NEXT_DUE).one()).earliest


class NextDue:
    """`next_due` for a worker that asks every second: on a connection of its own, kept open
    in autocommit, so that each look is one statement with no transaction to begin and end
    (on SQLite, no write lock either). Called from one thread at a time."""

    def __init__(self, engine: Engine, job_kinds: Collection[str] = ()) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._statement = _statement(job_kinds) if job_kinds else _NEXT_DUE

    def __call__(self) -> datetime | None:
        return self.each().earliest

    def each(self) -> Due:
        """When each queue is next due: the worker claims only from those due now, so that
        a busy queue costs the others no transaction."""
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return _due(execute(self._conn, self._statement).one())
        except Exception:
            self.close()  # a database restart, say: a new connection next time
            raise

    def close(self) -> None:
        """Discard the connection. Not handed back to the pool: it would go back changed
        (autocommit), and SQLite's pool expects its own settings (storage/db.py)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()
