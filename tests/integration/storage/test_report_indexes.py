"""Migration 0013 (the promise reports' indexes) up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command

from storage.migrate import alembic_config, upgrade
from tests.support.schema import inspector

REPORT_INDEXES = {
    "commitments": {"ix_commitments_started", "ix_commitments_conversation_started"},
    "pages": {"ix_pages_opened"},
    "page_notifications": {"ix_page_notifications_sent"},
    "messages": {"ix_messages_auto_created"},
}


def _indexes(url: str) -> dict[str, set[str]]:
    with inspector(url) as found:
        return {t: {i["name"] or "" for i in found.get_indexes(t)} for t in REPORT_INDEXES}


def test_0013_adds_the_report_indexes_and_takes_them_away(empty_url: str) -> None:
    upgrade(empty_url, "0012")
    assert all(not (have & REPORT_INDEXES[t]) for t, have in _indexes(empty_url).items())
    upgrade(empty_url, "0013")
    assert all(REPORT_INDEXES[t] <= have for t, have in _indexes(empty_url).items())
    command.downgrade(alembic_config(empty_url), "0012")
    assert all(not (have & REPORT_INDEXES[t]) for t, have in _indexes(empty_url).items())
