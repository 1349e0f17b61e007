"""Migration 0013 (the promise reports' indexes) up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from storage.db import normalise_url
from storage.migrate import alembic_config, upgrade
from tests.conftest import PG_URL, REQUIRE_PG, _drop_pg_database, _pg_database_url

REPORT_INDEXES = {
    "commitments": {"ix_commitments_started", "ix_commitments_conversation_started"},
    "pages": {"ix_pages_opened"},
    "page_notifications": {"ix_page_notifications_sent"},
    "messages": {"ix_messages_auto_created"},
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (the test migrates it up and down)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reports.db'}"
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("PARTNERLINE_REQUIRE_POSTGRES=1 but PARTNERLINE_TEST_DATABASE_URL unset")
        pytest.skip("PostgreSQL skipped: PARTNERLINE_TEST_DATABASE_URL is not set")
    url = _pg_database_url("reports")
    try:
        yield url
    finally:
        _drop_pg_database(url)


def _indexes(url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(normalise_url(url))
    try:
        inspector = sa.inspect(engine)
        return {t: {i["name"] or "" for i in inspector.get_indexes(t)} for t in REPORT_INDEXES}
    finally:
        engine.dispose()


def test_0013_adds_the_report_indexes_and_takes_them_away(empty_url: str) -> None:
    upgrade(empty_url, "0012")
    assert all(not (have & REPORT_INDEXES[t]) for t, have in _indexes(empty_url).items())
    upgrade(empty_url, "0013")
    assert all(REPORT_INDEXES[t] <= have for t, have in _indexes(empty_url).items())
    command.downgrade(alembic_config(empty_url), "0012")
    assert all(not (have & REPORT_INDEXES[t]) for t, have in _indexes(empty_url).items())
