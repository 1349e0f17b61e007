"""Stored canned replies: the list admins keep, read by the reply composer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import CannedReplyRow


@dataclass(frozen=True, slots=True)
class CannedReply:
    id: int
    title: str
    text: str  # with its placeholders, unfilled
    created_by: str
    updated_at: datetime


def _reply(row: CannedReplyRow) -> CannedReply:
    return CannedReply(row.id, row.title, row.text, row.created_by, row.updated_at)


class CannedReplyRepository:
    """Never commits: the unit of work around it does."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[CannedReply]:
        """By title, as the picker lists them."""
        rows = self.session.scalars(select(CannedReplyRow).order_by(CannedReplyRow.title))
        return [_reply(r) for r in rows]

    def get(self, reply_id: int) -> CannedReply | None:
        row = self.session.get(CannedReplyRow, reply_id)
        return _reply(row) if row is not None else None

    def titled(self, title: str) -> CannedReply | None:
        row = self.session.scalars(
            select(CannedReplyRow).where(CannedReplyRow.title == title)
        ).first()
        return _reply(row) if row is not None else None

    def add(self, title: str, text: str, *, by: str, at: datetime) -> CannedReply:
        row = CannedReplyRow(title=title, text=text, created_by=by, created_at=at, updated_at=at)
        self.session.add(row)
        self.session.flush()
        return _reply(row)

    def update(self, reply_id: int, title: str, text: str, *, at: datetime) -> CannedReply | None:
        row = self.session.get(CannedReplyRow, reply_id, with_for_update=True)
        if row is None:
            return None
        row.title, row.text, row.updated_at = title, text, at
        self.session.flush()
        return _reply(row)

    def delete(self, reply_id: int) -> bool:
        row = self.session.get(CannedReplyRow, reply_id)
        if row is None:
            return False
        self.session.delete(row)
        self.session.flush()
        return True
