"""storage/db.py skips SQLAlchemy's session synchronisation for an ORM UPDATE or DELETE when
the session holds no object of that table; an object it does hold, loaded or only added,
still sees the statement's change. `run` (hot statements on the session's connection) keeps
the same promises: pending objects are flushed before it reads, and a held object is
brought up to date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Executable, select, update
from sqlalchemy.orm import Session

from storage.db import Database, holds, run
from storage.prepared import Rows
from storage.tables import ClientRow, ContactRow
from storage.upsert import update_row

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _client(client_id: str) -> ClientRow:
    return ClientRow(id=client_id, name="Before", commitment="standard")


# An UPDATE through the session, or through `run` (which hands it to the session when the
# session holds objects of its table).
EXECUTES: dict[str, Callable[[Session, Executable], object]] = {
    "session": lambda session, statement: session.execute(statement),
    "run": run,
}


@pytest.mark.parametrize("execute", EXECUTES.values(), ids=EXECUTES.keys())
def test_a_loaded_object_sees_the_update(
    database: Database, execute: Callable[[Session, Executable], object]
) -> None:
    with database.session() as session:
        session.add(_client("acme"))
        session.commit()
        loaded = session.get(ClientRow, "acme")
        assert loaded is not None
        execute(session, update(ClientRow).where(ClientRow.id == "acme").values(name="After"))
        assert loaded.name == "After"


def test_an_added_object_not_yet_flushed_sees_the_update(database: Database) -> None:
    with database.session() as session:
        added = _client("globex")
        session.add(added)  # pending: flushed by the UPDATE's autoflush, after the check
        session.execute(update(ClientRow).where(ClientRow.id == "globex").values(name="After"))
        assert added.name == "After"


def test_with_nothing_held_the_update_is_not_synchronised_and_still_applies(
    database: Database,
) -> None:
    with database.session() as session:
        session.add(_client("initech"))
        session.commit()
    with database.session() as session:
        result = session.execute(
            update(ClientRow).where(ClientRow.id == "initech").values(name="After")
        )
        # What the listener chose: no synchronisation, as nothing of the table was held.
        assert result.context.execution_options.get("synchronize_session") is False
        session.commit()
    with database.session() as session:
        found = session.get(ClientRow, "initech")
        assert found is not None and found.name == "After"


def _contacts(database: Database) -> tuple[int, int]:
    """A contact with a client and one without (an unknown sender)."""
    with database.session() as session:
        known = ContactRow(client_id=None, name="Known", created_at=T0)
        unknown = ContactRow(client_id=None, name="Unknown", created_at=T0)
        session.add_all([_client("acme"), known, unknown])
        session.flush()
        known.client_id = "acme"
        session.commit()
        return known.id, unknown.id


def _names(database: Database) -> dict[int, str | None]:
    with database.session() as session:
        return {i: name for i, name in session.execute(select(ContactRow.id, ContactRow.name))}


def test_update_row_changes_only_a_row_whose_column_is_set_when_nothing_is_held(
    database: Database,
) -> None:
    known, unknown = _contacts(database)
    with database.session() as session:
        for row_id in (known, unknown):
            update_row(session, ContactRow, row_id, if_set="client_id", name="After")
        assert not holds(session, ContactRow)  # the Core statement: nothing was loaded
        session.commit()
    assert _names(database) == {known: "After", unknown: "Unknown"}


def test_update_row_brings_a_held_object_up_to_date_and_keeps_its_condition(
    database: Database,
) -> None:
    known, unknown = _contacts(database)
    with database.session() as session:
        held = {i: session.get(ContactRow, i) for i in (known, unknown)}
        for row_id in (known, unknown):
            update_row(session, ContactRow, row_id, if_set="client_id", name="After")
        assert {i: c.name for i, c in held.items() if c is not None} == {
            known: "After",
            unknown: "Unknown",
        }
        session.commit()
    assert _names(database) == {known: "After", unknown: "Unknown"}


def test_run_reads_what_the_session_has_pending(database: Database) -> None:
    """`run` executes on the session's connection, as the session would have: objects only
    added are flushed first (autoflush), so the read sees them."""
    with database.session() as session:
        session.add(_client("hooli"))
        rows = run(session, select(ClientRow.id, ClientRow.name)).all()
        assert [tuple(r) for r in rows] == [("hooli", "Before")]


def test_run_updates_on_the_connection_when_nothing_is_held(database: Database) -> None:
    with database.session() as session:
        session.add(_client("cyberdyne"))
        session.commit()
    with database.session() as session:
        result = run(
            session, update(ClientRow).where(ClientRow.id == "cyberdyne").values(name="After")
        )
        # On the connection's cursor (storage/prepared.py): not through the session.
        assert isinstance(result, Rows) and result.rowcount == 1
        session.commit()
    with database.session() as session:
        found = session.get(ClientRow, "cyberdyne")
        assert found is not None and found.name == "After"
