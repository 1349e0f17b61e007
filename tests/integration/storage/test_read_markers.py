"""What each staff member has read, on real SQLite and PostgreSQL (storage/read_markers.py),
the inbox's unread counts under its filters, and migration 0011 that made the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from bot.http.web.inbox_query import InboxFilter, inbox_queries
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from storage.unit_of_work import UnitOfWork
from tests.integration.storage.test_inbox_reads import conversation, db, reply
from tests.support.schema import table_names

__all__ = ["db"]  # the fixture, shared with test_inbox_reads

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
M = timedelta(minutes=1)
DANA, GEORGE = "+13135550142", "+13135550143"


def _unread(db: Database, staff: str, *ids: int) -> set[int]:
    with UnitOfWork(db) as uow:
        return uow.read_markers.unread_among(staff, list(ids))


def _mark(db: Database, staff: str, conversation_id: int, message_id: int) -> bool:
    with UnitOfWork(db) as uow:
        moved = uow.read_markers.mark_read(staff, conversation_id, message_id, T0)
        uow.commit()
    return moved


def test_markers_per_staff_member_only_move_forward(db: Database) -> None:
    dana, first = conversation(db, DANA, "Dashboard is empty", T0)
    george, _ = conversation(db, GEORGE, "Invoice doubled", T0 + M)
    assert _unread(db, "ana", dana, george) == {dana, george}

    assert _mark(db, "ana", dana, first)
    assert not _mark(db, "ana", dana, first)  # the same again: nothing moves
    assert _unread(db, "ana", dana, george) == {george}
    assert _unread(db, "raj", dana, george) == {dana, george}

    reply(db, dana, "Looking", T0 + 2 * M)  # ours: still read
    assert _unread(db, "ana", dana) == set()
    _, second = conversation(db, DANA, "Still empty", T0 + 3 * M)
    assert _unread(db, "ana", dana) == {dana}
    assert _mark(db, "ana", dana, second)
    assert not _mark(db, "ana", dana, first)  # an older page does not unread it
    assert _unread(db, "ana", dana) == set()


def test_counts_follow_the_lists_filters(db: Database) -> None:
    dana, _ = conversation(db, DANA, "Dashboard is empty", T0)
    george, _ = conversation(db, GEORGE, "Invoice doubled", T0 + M)
    with UnitOfWork(db) as uow:
        uow.conversations.assign(george, "ana", T0)
        uow.commit()
    with UnitOfWork(db) as uow:
        queries = inbox_queries(uow)
        everything = queries.unread_counts(InboxFilter(), "ana")
        searched = queries.unread_counts(InboxFilter(q="invoice"), "ana")
        other_channel = queries.unread_counts(InboxFilter(channel="slack"), "ana")
    assert (everything.open, everything.mine, everything.unassigned) == (2, 1, 1)
    assert (searched.open, searched.mine, searched.unassigned) == (1, 1, 0)
    assert other_channel.open == 0
    assert dana != george


def _statements_for_a_page(db: Database) -> tuple[int, int]:
    """(rows listed, statements run) for one page of the inbox as bot/http/web/inbox.py reads
    it: the list, its commitments, previews, unread rows and the views' counts."""
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with UnitOfWork(db) as uow:
            queries = inbox_queries(uow)
            views, _ = queries.inbox(InboxFilter(), "ana")
            ids = [v.id for v in views]
            uow.commitments.latest_by_conversation(ids)
            queries.last_messages(ids)
            queries.unread_among("ana", ids)
            queries.unread_counts(InboxFilter(q="a"), "ana")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(ids), len(seen)


def test_a_page_of_the_list_costs_the_same_statements_for_2_rows_or_12(db: Database) -> None:
    for n in range(2):
        conversation(db, f"+1313555{n:04d}", "Hello", T0 + n * M)
    rows, few = _statements_for_a_page(db)
    assert rows == 2
    for n in range(2, 12):
        conversation(db, f"+1313555{n:04d}", "Hello", T0 + n * M)
    rows, many = _statements_for_a_page(db)
    assert rows == 12 and many == few


def test_the_migration_adds_and_removes_the_table(empty_url: str) -> None:
    upgrade(empty_url, "0010")
    assert "read_markers" not in table_names(empty_url)
    upgrade(empty_url, "0011")
    assert "read_markers" in table_names(empty_url)
    command.downgrade(alembic_config(empty_url), "0010")
    assert "read_markers" not in table_names(empty_url)
    upgrade(empty_url)
    assert "read_markers" in table_names(empty_url)
