"""When the worker next has something to do, in one short read.

An idle worker asks this every few hundred milliseconds (work committed by another process
cannot wake it), so it is one statement over the three queues rather than a query each:
the journal (storage/inbound.py), the timers (storage/timers.py) and the outbox
(storage/outbox.py), each with the same "due" rule as the claim that takes its rows.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from storage import inbound, outbox, timers
from storage.tables import InboundDeliveryRow, OutboxRow, TimerRow
from storage.types import UTCDateTime

_NEXT_DUE = select(
    # A journalled delivery: at once, or after a failed attempt at its retry time.
    select(
        func.min(
            func.coalesce(InboundDeliveryRow.next_attempt_at, InboundDeliveryRow.received_at),
            type_=UTCDateTime(),
        )
    )
    .where(InboundDeliveryRow.state == inbound.PENDING)
    .scalar_subquery(),
    select(func.min(TimerRow.due_at)).where(TimerRow.state == timers.PENDING).scalar_subquery(),
    # Outbox rows first in line to their recipient: pending ones when due, claimed ones
    # when their lease runs out. A row waiting behind another does not count.
    select(func.min(OutboxRow.next_attempt_at))
    .where(OutboxRow.state == outbox.PENDING, outbox.FIRST_IN_LINE)
    .scalar_subquery(),
    select(func.min(OutboxRow.locked_until))
    .where(OutboxRow.state == outbox.SENDING, outbox.FIRST_IN_LINE)
    .scalar_subquery(),
)


def next_due(session: Session) -> datetime | None:
    """The earliest time at which a delivery, a timer or an outbox row becomes due (perhaps
    already past), or None when nothing waits."""
    return _earliest(session.execute(_NEXT_DUE).one())


def _earliest(times: Any) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None


class NextDue:
    """`next_due` for a worker that asks every second: on a connection of its own, kept open
    in autocommit, so that each look is one statement with no transaction to begin and end
    (on SQLite, no write lock either). Called from one thread at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __call__(self) -> datetime | None:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return _earliest(self._conn.execute(_NEXT_DUE).one())
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
