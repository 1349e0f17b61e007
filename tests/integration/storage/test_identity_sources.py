"""Migration 0014 (identity sources) up and down on SQLite and PostgreSQL: the identities of
the file's contacts are backfilled "config", every other "runtime"."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from storage.db import normalise_url
from storage.migrate import alembic_config, upgrade
from tests.support.schema import column_names


def _run(url: str, *statements: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            rows: list[tuple[object, ...]] = []
            for statement in statements:
                result = conn.execute(sa.text(statement))
                rows = [tuple(r) for r in result] if result.returns_rows else []
            return rows
    finally:
        engine.dispose()


def test_0014_backfills_identity_sources_and_goes_back(empty_url: str) -> None:
    upgrade(empty_url, "0013")
    _run(
        empty_url,
        "INSERT INTO clients (id, name, commitment, account_team, active) "
        "VALUES ('acme', 'Acme', 'priority', '[]', true)",
        "INSERT INTO contacts (id, client_id, name, config_key, created_at) VALUES "
        "(1, 'acme', 'Dana', 'acme/Dana', '2026-12-07 10:00:00'), "
        "(2, NULL, NULL, NULL, '2026-12-07 10:00:00')",
        "INSERT INTO channel_identities (contact_id, channel, address, opted_out, unreachable) "
        "VALUES (1, 'sms', '+13135550142', false, false), "
        "(1, 'telegram', '200000042', false, false), (2, 'sms', '+13135550177', false, false)",
    )
    upgrade(empty_url, "0014")
    rows = _run(empty_url, "SELECT address, source FROM channel_identities ORDER BY address")
    assert rows == [
        ("+13135550142", "config"),
        ("+13135550177", "runtime"),
        ("200000042", "config"),
    ]
    command.downgrade(alembic_config(empty_url), "0013")
    assert "source" not in column_names(empty_url, "channel_identities")
    assert len(_run(empty_url, "SELECT id FROM channel_identities")) == 3  # the rows stay
    upgrade(empty_url)
    assert "source" in column_names(empty_url, "channel_identities")
