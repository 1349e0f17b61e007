"""PostgreSQL connections are pinged at checkout only after sitting idle in the pool
(storage/db.py `_ping_when_idle`): one used moments ago goes straight to work, one idle past
PING_IDLE_S is checked first, and one found dead is replaced before the caller sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage import db as storage_db
from storage.db import Database


def _backend_pid(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(database: Database, pid: int) -> None:
    admin = Database(database.url)
    try:
        with admin.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
    finally:
        admin.dispose()


@pytest.fixture
def postgres(database: Database) -> Database:
    if database.sqlite:
        pytest.skip("PostgreSQL only: SQLite connections are files, not sessions on a server")
    return database


def test_a_connection_idle_past_the_limit_is_checked_and_replaced_if_dead(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_db, "PING_IDLE_S", 0.0)  # every checkout counts as idle
    pid = _backend_pid(postgres)
    _terminate(postgres, pid)
    # The pooled connection is dead; the ping at checkout finds it and the pool reconnects.
    assert _backend_pid(postgres) != pid


def test_a_connection_used_moments_ago_is_not_pinged(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the ping the same dead connection reaches the caller: the first statement
    fails (SQLAlchemy then discards the pool), and the next checkout connects afresh."""
    monkeypatch.setattr(storage_db, "PING_IDLE_S", 3600.0)
    pid = _backend_pid(postgres)
    _terminate(postgres, pid)
    with pytest.raises(DBAPIError) as failed:
        _backend_pid(postgres)
    assert failed.value.connection_invalidated
    assert _backend_pid(postgres) != pid
