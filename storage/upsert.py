"""INSERT … ON CONFLICT for both dialects: the database, not the code, settles races; and the
plain INSERT and UPDATE of one row that every client message makes several of.

The statements are built once per table and set of columns and then executed with the row's
values as parameters: building a SQLAlchemy statement (and its cache key) costs more than
running it on SQLite, and an ORM flush or ORM UPDATE several times more than a Core one
(measured: about 35 us a prebuilt Core UPDATE, 170 us built each time, 330 us through the ORM)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import FromClause, Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import holds, run


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@functools.lru_cache(maxsize=64)
def insert_or_nothing(dialect: str, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING into `table` for a dialect, built once (for a Core
    connection's `storage.db.execute`; the helpers below take a session). Inline: no id is
    fetched unless asked for with `returning` (on PostgreSQL an implicit RETURNING would
    take SQLAlchemy's path instead of storage/prepared.py's)."""
    return _insert(dialect, table).on_conflict_do_nothing().inline()


@functools.lru_cache(maxsize=128)
def _ignoring(dialect: str, table: Table, returning: tuple[str, ...]) -> Any:
    return insert_or_nothing(dialect, table).returning(*(table.c[name] for name in returning))


@functools.lru_cache(maxsize=128)
def _upserting(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    fixed: frozenset[str],
) -> Any:
    stmt = _insert(dialect, table)
    update = {k: stmt.excluded[k] for k in columns if k not in keys and k not in fixed}
    if update:
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
    return stmt.on_conflict_do_nothing(index_elements=list(keys))


def insert_ignore(session: Session, table: FromClause, values: dict[str, Any]) -> int | None:
    """Insert a row unless it would break a unique constraint; its id, or None if it existed."""
    # Callers pass a model's `__table__`, typed FromClause by SQLAlchemy; it is the Table.
    stmt = _ignoring(_dialect(session), cast(Table, table), ("id",))
    return run(session, stmt, values).scalar_one_or_none()


def insert_new(session: Session, table: FromClause, values: dict[str, Any]) -> bool:
    """Insert a row unless it would break a unique constraint; True if it was inserted.
    For any primary key (composite, or no autoincrement id), unlike `insert_ignore`."""
    key = tuple(column.name for column in table.primary_key)
    stmt = _ignoring(_dialect(session), cast(Table, table), key)
    return run(session, stmt, values).first() is not None


# Rows a multi-row INSERT takes at most: one statement (and plan) per number of rows up to it.
ROWS_PER_INSERT = 8


def insert_new_many(session: Session, table: FromClause, rows: Sequence[dict[str, Any]]) -> None:
    """`insert_new` of several rows (all with the same columns), in one prepared statement
    of up to ROWS_PER_INSERT rows (storage/prepared.py): one round trip to PostgreSQL, not
    one a row (on SQLite, where a statement costs microseconds, no faster measured)."""
    dialect = _dialect(session)
    for start in range(0, len(rows), ROWS_PER_INSERT):
        run(
            session,
            *ignoring_rows(dialect, cast(Table, table), rows[start : start + ROWS_PER_INSERT]),
        )


def ignoring_rows(
    dialect: str, table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[Any, dict[str, Any]]:
    """The statement (built once a shape) and parameters that insert these rows, up to
    ROWS_PER_INSERT of them with the same columns, skipping any whose key is taken."""
    columns = tuple(rows[0])
    params = {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in columns}
    return _ignoring_rows(dialect, table, columns, len(rows)), params


@functools.lru_cache(maxsize=128)
def _ignoring_rows(dialect: str, table: Table, columns: tuple[str, ...], count: int) -> Any:
    """INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING of `count` rows, the parameters of
    row i named `<column>_<i>`."""
    values = [
        {name: bindparam(f"{name}_{i}", type_=table.c[name].type) for name in columns}
        for i in range(count)
    ]
    return _insert(dialect, table).values(values).on_conflict_do_nothing()


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
    stmt = _upserting(
        _dialect(session), cast(Table, table), tuple(values), tuple(keys), frozenset(insert_only)
    )
    run(session, stmt, values)


@functools.lru_cache(maxsize=128)
def _inserting(table: Table) -> Any:
    return insert(table).returning(table.c.id)


def insert_row(session: Session, table: FromClause, values: dict[str, Any]) -> int:
    """Insert a row (Core: no object joins the session); its id."""
    return int(run(session, _inserting(cast(Table, table)), values).scalar_one())


@functools.lru_cache(maxsize=256)
def _updating(table: Table, columns: tuple[str, ...], if_set: str | None) -> Any:
    # Parameters named apart from the columns: SQLAlchemy reserves those for its own.
    stmt = update(table).where(table.c.id == bindparam("row_id"))
    if if_set is not None:
        stmt = stmt.where(table.c[if_set].is_not(None))
    return stmt.values({name: bindparam(f"new_{name}") for name in columns})


def update_row(
    session: Session, mapped: type[Any], row_id: int, *, if_set: str | None = None, **values: Any
) -> None:
    """UPDATE one row of a mapped class by id (`if_set`: only while that column is not
    NULL). Through the ORM only when the session holds objects of the class, which it brings
    up to date; else Core, built once."""
    if holds(session, mapped):
        stmt = update(mapped).where(mapped.id == row_id)
        if if_set is not None:
            stmt = stmt.where(getattr(mapped, if_set).is_not(None))
        session.execute(stmt.values(**values))
        return
    params = {f"new_{name}": value for name, value in values.items()}
    stmt = _updating(mapped.__table__, tuple(values), if_set)
    run(session, stmt, {"row_id": row_id, **params})
