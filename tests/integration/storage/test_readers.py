"""Read-only units of work (storage/db.py `read_session`): they read what writers committed,
never wait behind a writer holding the in-process write lock, and cannot commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import DBAPIError

from routing.messages import Channel
from storage.db import Database
from storage.unit_of_work import UnitOfWork

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_reader_reads_while_a_writer_holds_its_transaction(database: Database) -> None:
    with UnitOfWork(database) as uow:
        contact = uow.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        uow.commit()
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with UnitOfWork(database) as uow:  # holds the write lock (and on SQLite, the file's)
            uow.router_store.add_contact(Channel.SMS, "+13135550199", AT)
            writing.set()
            done.wait(10)
            uow.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        with UnitOfWork(database, read_only=True) as reader:  # would wait 10 s if it queued
            found = reader.router_store.find_contact(Channel.SMS, "+13135550142")
            uncommitted = reader.router_store.find_contact(Channel.SMS, "+13135550199")
        assert found is not None and found.id == contact.id
        assert uncommitted is None  # a snapshot of what was committed
    finally:
        done.set()
        thread.join()
    with UnitOfWork(database, read_only=True) as reader:
        assert reader.router_store.find_contact(Channel.SMS, "+13135550199") is not None


def test_a_reader_cannot_commit(database: Database) -> None:
    with UnitOfWork(database, read_only=True) as reader:
        if database.sqlite:
            reader.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        else:  # a READ ONLY transaction: the server refuses the write itself
            with pytest.raises(DBAPIError, match="read-only transaction"):
                reader.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        with pytest.raises(RuntimeError, match="read-only"):
            reader.commit()
    with UnitOfWork(database, read_only=True) as reader:
        assert reader.router_store.find_contact(Channel.SMS, "+13135550142") is None


def test_a_reader_that_ends_well_keeps_its_connections_prepared_statements(
    database: Database,
) -> None:
    """psycopg forgets (and deallocates) the statements it prepared on a connection at each
    ROLLBACK: a PostgreSQL reader ends with a COMMIT, which its READ ONLY transaction makes
    as harmless, so the pooled connection keeps them."""
    if database.sqlite:
        pytest.skip("PostgreSQL only: SQLite keeps no prepared statements across transactions")
    for _ in range(8):  # past psycopg's prepare_threshold (5)
        with UnitOfWork(database, read_only=True) as reader:
            reader.router_store.find_contact(Channel.SMS, "+13135550142")
    with database.engine.connect() as conn:
        prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
    assert prepared and prepared >= 1, "the reader's statement was not kept prepared"


def test_a_glance_reads_outside_any_transaction(database: Database) -> None:
    """`UnitOfWork(glance=True)` (the Slack mirror's look at a conversation): on PostgreSQL
    each read is a statement of its own, with no BEGIN and COMMIT around it; it reads
    what was committed, and cannot commit either."""
    with UnitOfWork(database) as uow:
        contact = uow.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        uow.commit()
    with UnitOfWork(database, glance=True) as glance:
        found = glance.router_store.find_contact(Channel.SMS, "+13135550142")
        driver = glance.session.connection().connection.driver_connection
        if not database.sqlite:
            assert driver.pgconn.transaction_status == TransactionStatus.IDLE
        with pytest.raises(RuntimeError, match="read-only"):
            glance.commit()
    assert found is not None and found.id == contact.id
