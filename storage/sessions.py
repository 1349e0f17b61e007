"""Inbox sessions kept on the server (the staff_sessions table).

The browser holds only a random token; the table holds its SHA-256, so a stolen database copy
opens no session. A session is live until it expires or is revoked (sign-out, a new password,
`partnerline users revoke`). The repository works inside the caller's transaction and never
commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.tables import StaffSessionRow

# How stale last_seen_at may get before a request writes it again: a write per page view
# would cost more than the figure is worth.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class LiveSession:
    id: int
    account_id: int
    csrf_token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffSessions:
    """Create, find, touch and revoke inbox sessions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self, account_id: int, now: datetime, lifetime: timedelta
    ) -> tuple[str, LiveSession]:
        """A new session: (the token for the cookie, the session). Only the hash is stored.
        The account's expired sessions go, so the table holds at most a lifetime's worth."""
        self.session.execute(
            delete(StaffSessionRow).where(
                StaffSessionRow.account_id == account_id, StaffSessionRow.expires_at <= now
            )
        )
        token = secrets.token_urlsafe(32)
        row = StaffSessionRow(
            account_id=account_id,
            token_hash=token_hash(token),
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            revoked_at=None,
        )
        self.session.add(row)
        self.session.flush()
        return token, LiveSession(row.id, row.account_id, row.csrf_token)

    def live(self, token: str, now: datetime) -> LiveSession | None:
        """The unexpired, unrevoked session of this token, or None; notes that it was seen."""
        row = self.session.execute(
            select(StaffSessionRow).where(StaffSessionRow.token_hash == token_hash(token))
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None or now >= row.expires_at:
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return LiveSession(row.id, row.account_id, row.csrf_token)

    def revoke(self, session_id: int, now: datetime) -> None:
        self.session.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.id == session_id, StaffSessionRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def revoke_all(self, account_id: int, now: datetime) -> int:
        """Ends every live session of the account; how many there were."""
        result = self.session.execute(
            update(StaffSessionRow)
            .where(
                StaffSessionRow.account_id == account_id,
                StaffSessionRow.revoked_at.is_(None),
                StaffSessionRow.expires_at > now,
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
