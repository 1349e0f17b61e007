"""Read-only units of work (storage/db.py `read_session`): they read what writers committed,
never wait behind a writer holding the in-process write lock, and cannot commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

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
        reader.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        with pytest.raises(RuntimeError, match="read-only"):
            reader.commit()
    with UnitOfWork(database, read_only=True) as reader:
        assert reader.router_store.find_contact(Channel.SMS, "+13135550142") is None
