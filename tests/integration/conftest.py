"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL, REQUIRE_PG, _drop_pg_database, _pg_database_url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own, on each backend: a migration test migrates it up
    and down step by step (beside the per-worker databases the other tests share)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("PARTNERLINE_REQUIRE_POSTGRES=1 but PARTNERLINE_TEST_DATABASE_URL unset")
        pytest.skip("PostgreSQL skipped: PARTNERLINE_TEST_DATABASE_URL is not set")
    url = _pg_database_url(request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    try:
        yield url
    finally:
        _drop_pg_database(url)
