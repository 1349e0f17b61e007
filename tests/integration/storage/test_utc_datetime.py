"""storage/types.py's UTCDateTime: aware datetimes in, aware UTC datetimes out, on both
databases. On SQLite it writes and reads the text itself: exactly the text SQLAlchemy's own
DATETIME writes (so rows written before read the same, and text orders as time does)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime, column, insert, select, table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError

from storage.db import Database
from storage.tables import TimerRow
from storage.types import UTCDateTime

TIMES = [
    datetime(2026, 12, 7, 19, 5, 0, tzinfo=UTC),  # no microseconds
    datetime(2026, 12, 7, 19, 5, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 2, 30, 0, 250000, tzinfo=ZoneInfo("America/Detroit")),  # DST gap
    datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/Detroit")),  # DST fold
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=ZoneInfo("Pacific/Kiritimati")),
    datetime(2027, 1, 1, 0, 0, tzinfo=ZoneInfo("Pacific/Pago_Pago")),
]


def test_sqlite_text_is_sqlalchemys_own_format() -> None:
    ours = UTCDateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    theirs = DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert ours is not None and theirs is not None
    for at in TIMES:
        assert ours(at) == theirs(at.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


def test_a_naive_datetime_is_refused(database: Database) -> None:
    with database.session() as session, pytest.raises(StatementError, match="naive"):
        session.execute(
            insert(TimerRow).values(
                key="naive", kind="test", due_at=datetime(2026, 12, 7), created_at=TIMES[0]
            )
        )


def test_times_come_back_aware_in_utc_and_ordered(database: Database) -> None:
    with database.session() as session:
        for n, at in enumerate(TIMES):
            session.execute(
                insert(TimerRow).values(key=f"t{n}", kind="test", due_at=at, created_at=at)
            )
        read = session.execute(select(TimerRow.due_at).order_by(TimerRow.due_at)).scalars().all()
        session.rollback()
    assert read == sorted(
        at.astimezone(UTC) for at in TIMES
    )  # (a gap or fold time never equals one of another zone)
    assert all(at.tzinfo is UTC for at in read)


def test_sqlite_text_written_elsewhere_reads_as_utc(database: Database) -> None:
    """Text without microseconds (SQLite's CURRENT_TIMESTAMP), or with an offset."""
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL keeps its own timestamp type")
    probe = table("probe", column("at", UTCDateTime()))
    with database.engine.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE probe (at TEXT)"))
        for written in ("2026-12-07 19:05:00", "2026-12-07 14:05:00-05:00"):
            conn.execute(text("DELETE FROM probe"))
            conn.execute(text("INSERT INTO probe VALUES (:at)"), {"at": written})
            assert conn.execute(select(probe.c.at)).scalar_one() == TIMES[0]
        conn.rollback()
