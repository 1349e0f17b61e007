"""storage/prepared.py runs `run`'s statements on the DBAPI cursor: each case here runs a
statement both ways, prepared and through SQLAlchemy, and compares what comes back and what
the database then holds, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Executable, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import prepared, upsert
from storage.db import Database, retryable, run
from storage.tables import TimerRow
from storage.upsert import insert_row
from tests.support.plans import ran_prepared

T0 = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
_INSERT = insert(TimerRow.__table__).returning(TimerRow.__table__.c.id)
_SOME = (
    select(TimerRow.id, TimerRow.payload, TimerRow.due_at, TimerRow.state, TimerRow.locked_until)
    .where(TimerRow.key.in_(bindparam("keys", expanding=True)))
    .order_by(TimerRow.id)
)
_LEASE = (
    update(TimerRow)
    .where(TimerRow.kind == bindparam("of_kind"))
    .values(locked_until=bindparam("until"))
)


def _sqlalchemy(session: Session, statement: Executable, params: dict[str, Any]) -> Any:
    return session.connection().execute(statement, params)


def _timer(key: str, **values: Any) -> dict[str, Any]:
    return {"key": key, "kind": "test", "due_at": T0, "created_at": T0, **values}


def test_an_insert_fills_python_defaults_as_sqlalchemy_does(database: Database) -> None:
    with database.session() as session:
        fast = insert_row(session, TimerRow.__table__, _timer("fast"))
        slow = _sqlalchemy(session, _INSERT, _timer("slow")).scalar_one()
        rows = {
            row.key: row
            for row in session.execute(
                select(TimerRow.__table__).where(TimerRow.id.in_([fast, slow]))
            )
        }
        session.commit()
    # payload (default=dict), state (default="pending"), attempts (0), requests (0)
    for column in ("payload", "state", "attempts", "requests", "locked_until"):
        assert getattr(rows["fast"], column) == getattr(rows["slow"], column)
    assert rows["fast"].payload == {} and rows["fast"].state == "pending"


def test_a_select_with_an_in_list_reads_rows_as_sqlalchemy_does(database: Database) -> None:
    with database.session() as session:
        for n in range(3):
            run(
                session,
                _INSERT,
                _timer(
                    f"k{n}",
                    payload={"n": n, "nested": [1, "two"]},
                    locked_until=T0 + timedelta(minutes=n),
                ),
            )
        params = {"keys": ["k0", "k2", "absent"]}
        fast = run(session, _SOME, params).all()
        slow = _sqlalchemy(session, _SOME, params).all()
        assert ran_prepared(_SOME)
        assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
        assert [r._fields for r in fast] == [r._fields for r in slow]
        assert fast[1].payload == {"n": 2, "nested": [1, "two"]}
        assert fast[1].locked_until == T0 + timedelta(minutes=2)
        assert fast[1].locked_until.tzinfo is not None  # UTCDateTime's result processing
        assert run(session, _SOME, {"keys": []}).all() == []


def test_an_update_reports_its_row_count(database: Database) -> None:
    with database.session() as session:
        for key in ("a", "b"):
            run(session, _INSERT, _timer(key))
        moved = run(session, _LEASE, {"of_kind": "test", "until": T0})
        assert moved.rowcount == 2
        assert run(session, _LEASE, {"of_kind": "none", "until": T0}).rowcount == 0
        assert ran_prepared(_LEASE)


def test_a_broken_constraint_raises_sqlalchemys_integrity_error(database: Database) -> None:
    with database.session() as session:
        run(session, _INSERT, _timer("twice"))
        with pytest.raises(IntegrityError) as raised:
            run(session, _INSERT, _timer("twice"))
        assert retryable(raised.value)
        session.rollback()
        # The session and its connection go on as after any failed statement.
        run(session, _INSERT, _timer("after"))
        session.commit()
    with database.session() as session:
        keys = session.execute(select(TimerRow.key).order_by(TimerRow.key)).scalars().all()
    assert keys == ["after"]


def test_past_the_bound_a_statement_takes_sqlalchemys_path(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements built afresh for each call cannot fill memory with plans."""
    monkeypatch.setattr(prepared, "MAX_KNOWN", len(prepared._KNOWN))
    known = len(prepared._KNOWN)
    with database.session() as session:
        run(session, _INSERT, _timer("bounded"))
        for _ in range(3):
            fresh = select(TimerRow.key).where(TimerRow.key == bindparam("key"))
            assert run(session, fresh, {"key": "bounded"}).scalar_one() == "bounded"
    assert len(prepared._KNOWN) == known


def test_many_rows_go_in_multi_row_statements_and_a_taken_key_is_skipped(
    database: Database,
) -> None:
    """`insert_new_many`: chunks of up to ROWS_PER_INSERT rows a statement, each prepared;
    a row whose key is taken is left as it was, the rest are inserted."""
    rows = [_timer(f"many:{n}", payload={"n": n}) for n in range(upsert.ROWS_PER_INSERT + 3)]
    with database.session() as session:
        insert_row(session, TimerRow.__table__, _timer("many:4", payload={"n": "first"}))
        upsert.insert_new_many(session, TimerRow.__table__, rows)
        stored = dict(
            session.execute(
                select(TimerRow.key, TimerRow.payload).where(TimerRow.key.startswith("many:"))
            ).all()
        )
        session.commit()
    assert len(stored) == len(rows)
    assert stored["many:4"] == {"n": "first"}
    assert stored["many:10"] == {"n": 10}
    dialect = database.engine.dialect.name
    columns = tuple(rows[0])
    for count in (upsert.ROWS_PER_INSERT, 3):
        statement = upsert._ignoring_rows(dialect, TimerRow.__table__, columns, count)
        assert ran_prepared(statement), count


def test_inserts_that_want_no_id_back_take_the_prepared_path(database: Database) -> None:
    """On PostgreSQL an INSERT fetches its new id (implicit RETURNING) unless it is inline,
    which sends it SQLAlchemy's way: the journal's and the commitment events' are inline."""
    statement = upsert.insert_or_nothing(database.engine.dialect.name, TimerRow.__table__)
    with database.session() as session:
        run(session, statement, _timer("inline"))
        session.commit()
    assert ran_prepared(statement)
