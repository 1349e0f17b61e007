"""Hot statements compiled once per dialect and run on the DBAPI cursor (`storage.db.run`).

Every client message runs about fifty small statements. On SQLite the database does each in
a few microseconds, while SQLAlchemy's execution of a compiled, cached Core statement wraps
it in 15-25 us of Python (its cache key, an execution context, events, a cursor result):
measured on SQLite, a one-row SELECT by `run` took 24 us through SQLAlchemy and 8 prepared,
an UPDATE of one row 30 and 12.
A statement built once (a module constant or a cached builder: what `run` is for) needs none
of that per call: it is compiled here once for the connection's dialect and for the
parameter names it is given, and each call then only binds the parameters through the same
type processors SQLAlchemy uses and hands the SQL to the cursor.

What the context would do besides is done here too, or the statement takes the usual path:
IN-list ("expanding") parameters are rendered by the compiled statement's own code; Python
column defaults of an INSERT (`default=0`, `default=dict`) are filled; result rows go through
the columns' result processors (SQLite's datetimes, JSON, booleans); a DBAPI error is raised
as SQLAlchemy's (IntegrityError, OperationalError), as callers and `retryable` expect; a
lost connection is invalidated. Statements with anything else (SQL-side defaults fetched
after an INSERT, executemany, schema translation) take SQLAlchemy's path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


class Rows(IteratorResult[Any]):
    """The result of a prepared statement: a Result (first, all, scalars, one_or_none...)
    with the DML row count a CursorResult has."""

    rowcount: int


@dataclass(slots=True)
class _Plan:
    compiled: SQLCompiler
    # (parameter name, its value when not given), for Python column defaults of an INSERT
    defaults: tuple[tuple[str, Callable[[], Any]], ...]
    returns_rows: bool
    keys: tuple[str, ...]
    types: tuple[Any, ...]
    # Built from the first result's cursor description (its type codes): then reused.
    metadata: SimpleResultMetaData | None = None


_UNKNOWN: Any = object()


@dataclass(slots=True)
class _Known:
    """What is kept of a statement: the statement itself (so that its id is not reused while
    it is here), its plans per dialect and parameter names (in the order given: a call site
    gives them in one order), and the mapped class it is of."""

    statement: ClauseElement
    plans: dict[tuple[str, tuple[str, ...]], _Plan | None]
    entity: Any = _UNKNOWN


# By the statement's id. `run` is for statements built once (module constants, cached
# builders), a few hundred at most; past MAX_KNOWN any other takes SQLAlchemy's path, so a
# statement built afresh for each call cannot fill memory.
MAX_KNOWN = 2000
_KNOWN: dict[int, _Known] = {}
_LOCK = threading.Lock()


def _known(statement: ClauseElement) -> _Known | None:
    known = _KNOWN.get(id(statement))
    if known is None and len(_KNOWN) < MAX_KNOWN:
        with _LOCK:
            known = _KNOWN.setdefault(id(statement), _Known(statement, {}))
    return known


def execute(
    connection: Connection, statement: ClauseElement, params: Mapping[str, Any]
) -> Rows | None:
    """Run `statement` with `params` (one row of them) on the connection's cursor; None when
    it cannot be run this way (the caller runs it through SQLAlchemy)."""
    dialect = connection.dialect
    key = (dialect.name, tuple(params))
    known = _known(statement)
    if known is None:
        return None
    plans = known.plans
    try:
        plan = plans[key]
    except KeyError:
        plan = plans[key] = _plan(statement, dialect, sorted(key[1]))
    if plan is None:
        return None
    return _run(connection, dialect, plan, params)


def entity(statement: ClauseElement) -> Any:
    """The mapped class an UPDATE or DELETE is of (None if Core's): `entity_description`,
    which SQLAlchemy works out afresh each time it is asked, kept with the plans."""
    known = _known(statement)
    if known is None:
        return statement.entity_description.get("entity")  # type: ignore[attr-defined]
    if known.entity is _UNKNOWN:
        known.entity = statement.entity_description.get("entity")  # type: ignore[attr-defined]
    return known.entity


def _plan(statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if not isinstance(compiled, SQLCompiler):
        return None
    if compiled.update_prefetch or compiled.schema_translate_map:
        return None
    if compiled.isinsert and compiled.implicit_returning:
        return None  # the primary key fetched behind the caller's back
    defaults = []
    for column in compiled.insert_prefetch:
        default = column.default
        if default is None or not (default.is_scalar or default.is_callable):
            return None
        name = compiled.bind_names[compiled.binds[column.key]]
        if default.is_scalar:
            value = default.arg  # type: ignore[attr-defined]  # a ScalarElementColumnDefault
            defaults.append((name, lambda value=value: value))
        else:
            # SQLAlchemy wraps a zero-argument callable (`dict`) to take the context.
            defaults.append((name, lambda fn=default.arg: fn(None)))  # type: ignore[attr-defined]
    columns = compiled._result_columns
    return _Plan(
        compiled=compiled,
        defaults=tuple(defaults),
        returns_rows=bool(columns),
        keys=tuple(c[0] for c in columns),
        types=tuple(c[3] for c in columns),
    )


def _run(connection: Connection, dialect: Dialect, plan: _Plan, params: Mapping[str, Any]) -> Rows:
    compiled = plan.compiled
    values = compiled.construct_params(params, escape_names=False)
    for name, default in plan.defaults:
        if values.get(name) is None and name not in params:
            values[name] = default()
    processors: Mapping[str, Any] = compiled._bind_processors
    sql = compiled.string
    positions: Sequence[str] | None = compiled.positiontup
    if compiled.literal_execute_params or compiled.post_compile_params:
        expanded = compiled._process_parameters_for_postcompile(values)
        sql = expanded.statement
        positions = expanded.positiontup
        processors = {**processors, **expanded.processors}
        values = dict(expanded.parameters)
    bound: Any
    if compiled.positional:
        assert positions is not None
        bound = tuple(
            processors[name](values[name]) if name in processors else values[name]
            for name in positions
        )
    else:
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        bound = {
            escaped.get(name, name): processors[name](value) if name in processors else value
            for name, value in values.items()
        }
    fairy = connection.connection
    cursor = fairy.cursor()
    try:
        cursor.execute(sql, bound)
        rows = cursor.fetchall() if plan.returns_rows else []
        rowcount = cursor.rowcount
        # psycopg builds the description anew each time it is asked: only the first time.
        if plan.metadata is None:
            plan.metadata = _metadata(plan, dialect, cursor.description)
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, fairy, cursor)
        if invalidated:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            sql,
            bound,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()
    result = Rows(plan.metadata, iter(rows))
    result.rowcount = rowcount
    return result


def _metadata(plan: _Plan, dialect: Dialect, description: Any) -> SimpleResultMetaData:
    codes = [d[1] for d in description] if description else [None] * len(plan.keys)
    processors = [
        type_._cached_result_processor(dialect, code)
        for type_, code in zip(plan.types, codes, strict=False)
    ]
    return SimpleResultMetaData(plan.keys, _processors=processors if any(processors) else None)
