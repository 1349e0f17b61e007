"""The use-case tests run on SQLite only (a migrated temporary file, emptied per test), so the
folder stays fast: the PostgreSQL half of storage is covered by tests/integration and tests/e2e."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.db import Database
from tests.usecases.rig import WEDNESDAY_MORNING, Rig, build_rig


@pytest.fixture(params=["sqlite"])
def db_url(db_url: str) -> str:
    """tests/conftest.py's `db_url`, narrowed to its SQLite case (see the module text)."""
    return db_url


@pytest.fixture
def rig(database: Database) -> Iterator[Rig]:
    """Wired at a Wednesday morning, the office open; a test moves the clock where it needs."""
    built = build_rig(database, WEDNESDAY_MORNING)
    yield built
    built.container.inbound.stop()
