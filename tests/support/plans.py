"""How a statement runs: SQLite's query plan (for tests that an index serves a look-up), and
whether `storage.db.run` took the prepared path for it."""

from __future__ import annotations

import pytest
from sqlalchemy import Executable, text

from storage import prepared
from storage.db import Database


def sqlite_plan(database: Database, sql: str) -> str:
    """`EXPLAIN QUERY PLAN` of `sql` as text; skips the test on PostgreSQL, whose plan
    depends on its statistics (SQLite's is stable to read)."""
    if not database.sqlite:
        pytest.skip("SQLite's plan is stable to read; PostgreSQL's depends on its statistics")
    with database.engine.connect() as conn:
        return "\n".join(str(row) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


def ran_prepared(statement: Executable) -> bool:
    """Whether `run` took the prepared path for this statement (storage/prepared.py): it has
    a plan, and none that is None, for the parameter names it was given."""
    known = prepared._KNOWN.get(id(statement))
    return known is not None and bool(known.plans) and None not in known.plans.values()
