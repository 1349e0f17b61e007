"""Migration 0012 (canned replies) up and down on SQLite and PostgreSQL, and the repository's
title uniqueness held by the database itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from storage.canned import CannedReplyRepository
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from tests.support.schema import table_names

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_0012_adds_canned_replies_and_takes_them_away(empty_url: str) -> None:
    upgrade(empty_url, "0011")
    assert "canned_replies" not in table_names(empty_url)
    upgrade(empty_url, "0012")
    db = Database(empty_url)
    try:
        with db.session() as session:
            repo = CannedReplyRepository(session)
            repo.add("Hello", "Hi {contact_first_name}", by="jim", at=T0)
            session.commit()
            assert [(r.title, r.updated_at) for r in repo.all()] == [("Hello", T0)]
            # The repository does not check titles (the use case does); the database holds.
            with pytest.raises(IntegrityError):
                repo.add("Hello", "twice", by="jim", at=T0)
            session.rollback()
    finally:
        db.dispose()
    command.downgrade(alembic_config(empty_url), "0011")
    assert "canned_replies" not in table_names(empty_url)
    upgrade(empty_url)
    assert "canned_replies" in table_names(empty_url)
