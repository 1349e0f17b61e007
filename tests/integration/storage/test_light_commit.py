"""Units of work done again when lost (`UnitOfWork(durable=False)`: the Slack mirror's
records, its jobs' leases and ends): on SQLite their transactions run with synchronous=NORMAL
(no disk sync at commit), and the pooled connection goes back to FULL for whatever uses it
next, whether the work committed or not. Every other unit of work syncs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from routing.messages import Channel
from storage.db import Database
from storage.unit_of_work import UnitOfWork

AT = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
FULL, NORMAL = 2, 1


def _synchronous(uow: UnitOfWork) -> int:
    return int(uow.session.execute(text("PRAGMA synchronous")).scalar_one())


@pytest.fixture
def sqlite(database: Database) -> Database:
    if not database.sqlite:
        pytest.skip("SQLite only: PostgreSQL's commits are the same either way")
    return database


@pytest.mark.parametrize("commits", [True, False])
def test_a_light_unit_of_work_runs_unsynced_and_leaves_the_connection_syncing(
    sqlite: Database, commits: bool
) -> None:
    with UnitOfWork(sqlite, durable=False) as uow:
        uow.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        assert _synchronous(uow) == NORMAL
        if commits:
            uow.commit()
    # One thread, one pooled connection: the next units of work get the same one back.
    with UnitOfWork(sqlite) as uow:
        assert _synchronous(uow) == FULL
        found = uow.router_store.find_contact(Channel.SMS, "+13135550142")
    assert (found is not None) == commits


def test_a_durable_unit_of_work_syncs(database: Database) -> None:
    with UnitOfWork(database) as uow:
        uow.router_store.add_contact(Channel.SMS, "+13135550142", AT)
        if database.sqlite:
            assert _synchronous(uow) == FULL
        uow.commit()
    with UnitOfWork(database, durable=False) as uow:  # on PostgreSQL: a plain commit
        uow.router_store.add_contact(Channel.SMS, "+13135550143", AT)
        uow.commit()
    with UnitOfWork(database, read_only=True) as reader:
        assert reader.router_store.find_contact(Channel.SMS, "+13135550143") is not None
