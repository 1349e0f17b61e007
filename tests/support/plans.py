"""SQLite's query plan of a statement, for tests that an index serves a look-up."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.db import Database


def sqlite_plan(database: Database, sql: str) -> str:
    """`EXPLAIN QUERY PLAN` of `sql` as text; skips the test on PostgreSQL, whose plan
    depends on its statistics (SQLite's is stable to read)."""
    if not database.sqlite:
        pytest.skip("SQLite's plan is stable to read; PostgreSQL's depends on its statistics")
    with database.engine.connect() as conn:
        return "\n".join(str(row) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
