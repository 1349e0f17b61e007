"""Shared fixtures: real SQLite and real PostgreSQL, migrated by Alembic once per test process.

PostgreSQL comes from PARTNERLINE_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test).
Each pytest-xdist worker gets a database of its own, made from that URL. Without the variable
the PostgreSQL half of every storage and API test is skipped, and the header says so; with
PARTNERLINE_REQUIRE_POSTGRES=1 (CI) a missing or unreachable PostgreSQL fails the run instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import Database, normalise_url
from storage.migrate import upgrade
from storage.tables import Base

# CI explores the same examples on every run, so that a red build is about the change; a
# developer's run explores new ones (and hypothesis keeps any failure it finds to replay).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PG_URL = os.environ.get("PARTNERLINE_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("PARTNERLINE_REQUIRE_POSTGRES") == "1"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "agency.toml"


def pytest_report_header(config: pytest.Config) -> str:
    if PG_URL:
        return f"PostgreSQL tests: ON, against {PG_URL}"
    return (
        "PostgreSQL tests: SKIPPED (set PARTNERLINE_TEST_DATABASE_URL, e.g. "
        "postgresql://postgres@127.0.0.1:5432/test, to run them)"
    )


def _worker_id(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


def _pg_database_url(worker: str) -> str:
    """Create (afresh) this worker's own database next to the one named by the URL."""
    assert PG_URL is not None
    base = normalise_url(PG_URL)
    # The process id keeps concurrent runs on one server (two checkouts, CI) apart.
    name = f"{base.database}_pl_{worker}_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_urls(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """One migrated database per backend for this test process, made on first use."""
    urls: dict[str, str] = {}
    yield urls
    if "postgres" in urls:
        _drop_pg_database(urls["postgres"])


def _migrated(
    kind: str, request: pytest.FixtureRequest, cache: dict[str, str], tmp: pytest.TempPathFactory
) -> str:
    if kind in cache:
        return cache[kind]
    if kind == "sqlite":
        url = f"sqlite:///{tmp.mktemp('sqlite') / 'partnerline.db'}"
    else:
        if not PG_URL:
            if REQUIRE_PG:
                pytest.fail(
                    "PARTNERLINE_REQUIRE_POSTGRES=1 but PARTNERLINE_TEST_DATABASE_URL unset"
                )
            pytest.skip("PostgreSQL skipped: PARTNERLINE_TEST_DATABASE_URL is not set")
        try:
            url = _pg_database_url(_worker_id(request))
        except Exception as exc:
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL at {PG_URL} unreachable: {exc}")
            pytest.skip(f"PostgreSQL skipped: {PG_URL} unreachable ({exc})")
    upgrade(url)
    cache[kind] = url
    return url


def _drop_pg_database(url: str) -> None:
    assert PG_URL is not None
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = make_url(url).database
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def truncate_all(db: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.sqlite:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            joined = ", ".join(f'"{n}"' for n in tables)
            conn.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest,
    migrated_urls: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A migrated, empty database URL: each test runs once on SQLite and once on PostgreSQL."""
    url = _migrated(request.param, request, migrated_urls, tmp_path_factory)
    db = Database(url)
    try:
        truncate_all(db)
    finally:
        db.dispose()
    return url


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()


def pytest_configure(config: pytest.Config) -> None:
    """Have pytest-xdist hand out tests one at a time (`--maxschedchunk 1`, unless given).

    By default each worker is first sent a quarter of its share as one run of consecutive
    tests, so the `slow` tests, sorted first, all went to the first worker and ran there one
    after another: about seven minutes of the suite's ten. One at a time, each worker takes
    the next test as it frees up, and the slow ones run side by side."""
    if getattr(config.option, "maxschedchunk", False) is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the tests that wait for real seconds first, so that pytest-xdist overlaps their
    waiting with the rest of the suite instead of leaving them for the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
