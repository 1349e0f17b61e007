"""INSERT … ON CONFLICT for both dialects: the database, not the code, settles races."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import FromClause, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(session: Session, clause: FromClause) -> Any:
    # Callers pass a model's `__table__`, typed FromClause by SQLAlchemy; it is the Table.
    table = cast(Table, clause)
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {name!r}")


def insert_ignore(session: Session, table: FromClause, values: dict[str, Any]) -> int | None:
    """Insert a row unless it would break a unique constraint; its id, or None if it existed."""
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing()
    return session.execute(stmt.returning(table.c.id)).scalar_one_or_none()


def insert_new(session: Session, table: FromClause, values: dict[str, Any]) -> bool:
    """Insert a row unless it would break a unique constraint; True if it was inserted.
    For any primary key (composite, or no autoincrement id), unlike `insert_ignore`."""
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing()
    return session.execute(stmt.returning(*table.primary_key)).first() is not None


def upsert(
    session: Session,
    table: FromClause,
    values: dict[str, Any],
    keys: Sequence[str],
    *,
    insert_only: Sequence[str] = (),
) -> None:
    """Insert, or update every other column of the row that has the same `keys` (except
    those `insert_only`, e.g. a creation time)."""
    stmt = _insert(session, table).values(**values)
    update = {k: stmt.excluded[k] for k in values if k not in keys and k not in insert_only}
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt)
