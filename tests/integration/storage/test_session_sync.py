"""storage/db.py skips SQLAlchemy's session synchronisation for an ORM UPDATE or DELETE when
the session holds no object of that table; an object it does hold, loaded or only added,
still sees the statement's change."""

from __future__ import annotations

from sqlalchemy import update

from storage.db import Database
from storage.tables import ClientRow


def _client(client_id: str) -> ClientRow:
    return ClientRow(id=client_id, name="Before", commitment="standard")


def test_a_loaded_object_sees_the_update(database: Database) -> None:
    with database.session() as session:
        session.add(_client("acme"))
        session.commit()
        loaded = session.get(ClientRow, "acme")
        assert loaded is not None
        session.execute(update(ClientRow).where(ClientRow.id == "acme").values(name="After"))
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
