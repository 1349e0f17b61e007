"""Stored on-call overrides, read back as routing.rotations.Override objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from routing.rotations import Override
from storage.tables import OverrideRow


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """An override with who stored it and when, for listing."""

    override: Override
    created_at: datetime
    created_by: str

    @property
    def id(self) -> int:
        assert self.override.id is not None
        return self.override.id


def _override(row: OverrideRow) -> Override:
    return Override(id=row.id, rotation=row.rotation, staff=row.staff, start=row.start, end=row.end)


def _record(row: OverrideRow) -> OverrideRecord:
    return OverrideRecord(_override(row), row.created_at, row.created_by)


class OverrideRepository:
    """Never commits: the unit of work around it does."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        rotation: str,
        staff: str,
        start: datetime,
        end: datetime,
        *,
        created_by: str,
        at: datetime,
    ) -> OverrideRecord:
        # Build the domain object first: it refuses naive times and empty ranges.
        Override(None, rotation, staff, start, end)
        row = OverrideRow(
            rotation=rotation,
            staff=staff,
            start=start,
            end=end,
            created_at=at,
            created_by=created_by,
        )
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def get(self, override_id: int) -> OverrideRecord | None:
        row = self.session.get(OverrideRow, override_id)
        return _record(row) if row is not None else None

    def delete(self, override_id: int) -> bool:
        """True when there was such an override."""
        result = self.session.execute(delete(OverrideRow).where(OverrideRow.id == override_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a DELETE's result is a CursorResult

    def list_for(self, rotation: str, a: datetime, b: datetime) -> list[Override]:
        """The rotation's overrides that overlap [a, b), oldest (lowest id) first."""
        rows = self.session.scalars(
            select(OverrideRow)
            .where(OverrideRow.rotation == rotation, OverrideRow.start < b, OverrideRow.end > a)
            .order_by(OverrideRow.id)
        )
        return [_override(row) for row in rows]

    def all_active(self, at: datetime) -> list[Override]:
        """Every override not over at `at`, of every rotation: in force, or still to come.

        Upcoming ones belong here because they decide when the current answer ends and who is
        next.
        """
        rows = self.session.scalars(
            select(OverrideRow).where(OverrideRow.end > at).order_by(OverrideRow.id)
        )
        return [_override(row) for row in rows]

    def page(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        rotation: str | None = None,
        staff: str | None = None,
        ending_after: datetime | None = None,
    ) -> tuple[list[OverrideRecord], int | None]:
        """Newest first; the id to pass as `before_id` for the next page, or None at the end."""
        query = select(OverrideRow).order_by(OverrideRow.id.desc()).limit(limit + 1)
        if before_id is not None:
            query = query.where(OverrideRow.id < before_id)
        if rotation is not None:
            query = query.where(OverrideRow.rotation == rotation)
        if staff is not None:
            query = query.where(OverrideRow.staff == staff)
        if ending_after is not None:
            query = query.where(OverrideRow.end > ending_after)
        rows = list(self.session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        return [_record(row) for row in rows], (rows[-1].id if more and rows else None)
