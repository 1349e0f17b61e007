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

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from storage import inbound, outbox, timers
from storage.db import execute
from storage.tables import InboundDeliveryRow, OutboxRow, TimerRow
from storage.types import UTCDateTime


def _first_due(kind: str) -> Any:
    """When the first pending timer of `kind` is due: one probe of ix_timers_state_kind_due,
    however many rows of other kinds wait."""
    return (
        select(TimerRow.due_at)
        .where(TimerRow.state == timers.PENDING, TimerRow.kind == kind)
        .order_by(TimerRow.due_at)
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class _Look:
    """The look's statement and how its columns read: the journal's, the outbox's two, then
    the timers' (`timer_columns` of them) and the jobs'."""

    statement: Any
    timer_columns: int

    def due(self, row: Any) -> Due:
        inbound_at, pending_at, leased_at, *probes = row
        outbox_at = _earliest((pending_at, leased_at))
        n = self.timer_columns
        return Due(inbound_at, _earliest(probes[:n]), outbox_at, _earliest(probes[n:]))


def _look(job_kinds: Collection[str] = (), timer_kinds: Collection[str] | None = None) -> _Look:
    """The look, with the timers of `job_kinds` (jobs, which the worker claims apart and runs
    a bounded number of at once) told apart from the other timers: each job kind is probed
    apart. Given `timer_kinds` (the worker's), so is each timer kind: walking the timers in
    due order past the jobs (or the jobs past the timers) costs as many rows as wait of the
    other sort (5 ms a look with 7,000 pending under load, see migration 0017). A timer of a
    kind not named is then not looked for (no worker here could run it)."""
    if timer_kinds is None:
        timer_probes = [
            select(func.min(TimerRow.due_at))
            .where(TimerRow.state == timers.PENDING, TimerRow.kind.not_in(sorted(job_kinds)))
            .scalar_subquery()
        ]
    else:
        timer_probes = [_first_due(kind) for kind in sorted(timer_kinds)]
    statement = select(
        # A journalled delivery: at once, or after a failed attempt at its retry time.
        select(
            func.min(
                func.coalesce(InboundDeliveryRow.next_attempt_at, InboundDeliveryRow.received_at),
                type_=UTCDateTime(),
            )
        )
        .where(InboundDeliveryRow.state == inbound.PENDING)
        .scalar_subquery(),
        # Outbox rows first in line to their recipient: pending ones when due, claimed ones
        # when their lease runs out. A row waiting behind another does not count.
        select(func.min(OutboxRow.next_attempt_at))
        .where(OutboxRow.state == outbox.PENDING, outbox.FIRST_IN_LINE)
        .scalar_subquery(),
        select(func.min(OutboxRow.locked_until))
        .where(OutboxRow.state == outbox.SENDING, outbox.FIRST_IN_LINE)
        .scalar_subquery(),
        *timer_probes,
        *(_first_due(kind) for kind in sorted(job_kinds)),
    )
    return _Look(statement, len(timer_probes))


def _earliest(times: Any) -> datetime | None:
    return min((t for t in times if t is not None), default=None)


_NEXT_DUE = _look()


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


def next_due(session: Session) -> datetime | None:
    """The earliest time at which a delivery, a timer or an outbox row becomes due (perhaps
    already past), or None when nothing waits."""
    return _NEXT_DUE.due(session.execute(_NEXT_DUE.statement).one()).earliest


class NextDue:
    """`next_due` for a worker that asks every second: on a connection of its own, kept open
    in autocommit, so that each look is one statement with no transaction to begin and end
    (on SQLite, no write lock either). Called from one thread at a time."""

    def __init__(
        self,
        engine: Engine,
        job_kinds: Collection[str] = (),
        timer_kinds: Collection[str] | None = None,
    ) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        told = job_kinds or timer_kinds is not None
        self._look = _look(job_kinds, timer_kinds) if told else _NEXT_DUE

    def __call__(self) -> datetime | None:
        return self.each().earliest

    def each(self) -> Due:
        """When each queue is next due: the worker claims only from those due now, so that
        a busy queue costs the others no transaction."""
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return self._look.due(execute(self._conn, self._look.statement).one())
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
