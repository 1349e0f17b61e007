"""A login's time zone on real SQLite and PostgreSQL: migration 0010 adds it to the logins
that exist (empty: the agency's zone), the repository keeps it, and the downgrade drops it
without losing the login."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine

from bot.usecases.accounts import StaffAccounts, zone_names
from storage.accounts import StaffAccountRepository
from storage.db import Database, normalise_url
from storage.migrate import alembic_config, upgrade

OLD = "0009"  # storage/migrations/versions/20261207_0200_typed_channel_refs.py
T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def _account_columns(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("staff_accounts")}
    finally:
        engine.dispose()


def test_the_migration_gives_every_login_a_zone_and_the_downgrade_keeps_the_logins(
    empty_url: str,
) -> None:
    upgrade(empty_url, OLD)
    assert "timezone" not in _account_columns(empty_url)
    engine = create_engine(normalise_url(empty_url))
    try:
        with engine.begin() as conn:  # a login as the code before 0010 wrote it
            conn.execute(
                sa.text(
                    "INSERT INTO staff_accounts (id, login, staff_id, password_hash, is_admin, "
                    "failed_logins, created_at) VALUES (7, 'ana', 'ana', 'x', false, 0, :t)"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
    finally:
        engine.dispose()

    upgrade(empty_url)
    db = Database(empty_url)
    try:
        with db.session() as session:
            accounts = StaffAccounts(StaffAccountRepository(session))
            account = accounts.get(7)
            assert account is not None and account.timezone is None  # the agency's zone
            accounts.set_timezone(7, "Asia/Tokyo")
            session.commit()
        with db.session() as session:
            accounts = StaffAccounts(StaffAccountRepository(session))
            assert (account := accounts.get(7)) is not None and account.timezone == "Asia/Tokyo"
            with pytest.raises(ValueError, match="not a time zone"):
                accounts.set_timezone(7, "Mars/Olympus_Mons")
            with pytest.raises(ValueError, match="not a time zone"):
                accounts.set_timezone(7, "../../etc/passwd")
            session.rollback()
            assert (account := accounts.get(7)) is not None and account.timezone == "Asia/Tokyo"
            # Every zone offered fits the column.
            assert max(len(z) for z in zone_names()) <= 64
            longest = max(zone_names(), key=len)
            accounts.set_timezone(7, longest)
            session.commit()
        with db.session() as session:
            assert (account := StaffAccounts(StaffAccountRepository(session)).get(7)) is not None
            assert account.timezone == longest
            StaffAccounts(StaffAccountRepository(session)).set_timezone(7, None)
            session.commit()
            stored = StaffAccountRepository(session).get(7)
            assert stored is not None and stored.timezone is None
    finally:
        db.dispose()

    command.downgrade(alembic_config(empty_url), OLD)
    assert "timezone" not in _account_columns(empty_url)
    engine = create_engine(normalise_url(empty_url))
    try:
        with engine.connect() as conn:
            logins = conn.execute(sa.text("SELECT id, login FROM staff_accounts")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in logins] == [(7, "ana")]
