"""Web-inbox logins (the staff_accounts table); the rules for them live in
bot/usecases/accounts.py.

The repository works inside the caller's transaction and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.sessions import StaffSessions
from storage.tables import StaffAccountRow


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """A staff_accounts row as read, with what the sign-in rules need."""

    id: int
    login: str
    staff_id: str
    is_admin: bool
    password_hash: str
    failed_logins: int
    last_failed_at: datetime | None
    timezone: str | None = None  # an IANA zone; None: the agency's


def _stored(row: StaffAccountRow) -> StoredAccount:
    return StoredAccount(
        id=row.id,
        login=row.login,
        staff_id=row.staff_id,
        is_admin=row.is_admin,
        password_hash=row.password_hash,
        failed_logins=row.failed_logins,
        last_failed_at=row.last_failed_at,
        timezone=row.timezone,
    )


class StaffAccountRepository:
    """Find, add and update logins; end their sessions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_login(self, login: str, *, lock: bool = False) -> StoredAccount | None:
        """`lock`: hold the row (FOR UPDATE) until the transaction ends, so that concurrent
        sign-ins count their failures one after the other."""
        query = select(StaffAccountRow).where(StaffAccountRow.login == login)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        return None if row is None else _stored(row)

    def get(self, account_id: int) -> StoredAccount | None:
        row = self.session.get(StaffAccountRow, account_id)
        return None if row is None else _stored(row)

    def count(self) -> int:
        return int(
            self.session.execute(select(func.count()).select_from(StaffAccountRow)).scalar_one()
        )

    def add(
        self, login: str, staff_id: str, password_hash: str, *, is_admin: bool, now: datetime
    ) -> StoredAccount:
        row = StaffAccountRow(
            login=login,
            staff_id=staff_id,
            password_hash=password_hash,
            is_admin=is_admin,
            failed_logins=0,
            created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _stored(row)

    def _row(self, account_id: int) -> StaffAccountRow:
        # Read by by_login/get earlier in the transaction, so this comes from the session's
        # identity map without another query.
        row = self.session.get(StaffAccountRow, account_id)
        if row is None:
            raise LookupError(f"no staff account {account_id}")
        return row

    def record_failure(self, account_id: int, failed_logins: int, at: datetime) -> None:
        row = self._row(account_id)
        row.failed_logins = failed_logins
        row.last_failed_at = at

    def record_success(self, account_id: int, password_hash: str | None = None) -> None:
        """The failure count starts again; `password_hash`, if given, replaces the stored one
        (a rehash with today's parameters)."""
        row = self._row(account_id)
        row.failed_logins = 0
        row.last_failed_at = None
        if password_hash is not None:
            row.password_hash = password_hash

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        """A new password: the failure count starts again too."""
        self.record_success(account_id, password_hash)

    def set_timezone(self, account_id: int, timezone: str | None) -> None:
        """The zone the inbox shows this login's times in (checked by the caller)."""
        row = self.session.get(StaffAccountRow, account_id)
        if row is None:
            raise LookupError(f"no staff account {account_id}")
        row.timezone = timezone

    def end_sessions(self, account_id: int, now: datetime) -> int:
        """Ends every live session of the account; how many there were."""
        return StaffSessions(self.session).revoke_all(account_id, now)
