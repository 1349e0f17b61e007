"""storage/db.py begins each SQLite transaction itself, on the driver's connection: a writer
takes the write lock at once (BEGIN IMMEDIATE), a reader does not (BEGIN DEFERRED), and a
database another process holds locked past the busy timeout fails the way SQLAlchemy says
it, as an OperationalError that `retryable` retries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import Database, retryable


def _database(tmp_path: Path) -> tuple[Database, Path]:
    path = tmp_path / "begin.db"
    db = Database(f"sqlite:///{path}", pool_size=1)
    # The one pooled connection waits 50 ms for a lock, not 30 s.
    raw = db.engine.raw_connection()
    raw.driver_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
    raw.close()
    return db, path


def test_a_writer_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    db, path = _database(tmp_path)
    other = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        with db.session() as session:
            session.connection()  # begins: nothing read or written yet
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released with the session
        other.execute("ROLLBACK")
    finally:
        other.close()
        db.dispose()


def test_a_reader_takes_no_write_lock(tmp_path: Path) -> None:
    db, path = _database(tmp_path)
    other = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        with db.read_session() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
            other.execute("BEGIN IMMEDIATE")  # a writer goes on beside the reader
            other.execute("ROLLBACK")
    finally:
        other.close()
        db.dispose()


def test_a_database_locked_past_the_timeout_is_a_retryable_operational_error(
    tmp_path: Path,
) -> None:
    db, path = _database(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked") as raised, db.session() as session:
            session.connection()
        assert retryable(raised.value)
        holder.execute("ROLLBACK")
        with db.session() as session:  # the pooled connection is fine afterwards
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        holder.close()
        db.dispose()
