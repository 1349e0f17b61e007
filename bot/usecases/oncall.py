"""Who is on call: the configured rotations, with the overrides stored in the database.

The API (`GET /api/oncall`), the CLI (`partnerline oncall`) and the calendar feeds all ask
`OnCallService`, so they cannot disagree.

Rules for overrides (`POST /api/overrides`):
- the rotation must be one of the configuration's, and the person one of its staff;
- any staff member may cover, not only the rotation's members: covering for a colleague
  (a manager over a holiday, say) is what an override is for;
- times must carry a UTC offset, the end must come after the start, and an override may last
  at most `MAX_OVERRIDE`;
- every time asked about or stored lies in the years 1970 to 2999 (as a rotation's start does),
  so that "until" and "next" can be worked out for every rotation and calendar;
- where overrides overlap, the newest wins (routing.rotations); past ranges are allowed, so
  that the record of who was really on call can be corrected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.usecases.coverage import gaps_ahead
from bot.usecases.directory import Directory
from routing.clock import Clock
from routing.coverage import Gap
from routing.errors import DomainError, MalformedPayload, NotFound
from routing.limits import checked_row_id
from routing.rotations import (
    OnCall,
    OnCallPeriod,
    Override,
    Rotation,
    on_call,
    shift_at,
    shifts_between,
)
from storage.overrides import OverrideRecord, OverrideRepository
from storage.unit_of_work import UnitOfWork

MAX_OVERRIDE = timedelta(days=366)
_EARLIEST, _LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
# Handoffs follow the wall clock, so a shift spanning a clock change is up to an hour longer.
_CLOCK_CHANGE = timedelta(hours=1)


OverridesBetween = Callable[[datetime, datetime], list[Override]]


def whole_periods(
    rotation: Rotation, a: datetime, b: datetime, overrides_between: OverridesBetween
) -> list[OnCallPeriod]:
    """The on-call periods of `rotation` that overlap [a, b), whole: not cut at a or b.

    `overrides_between(x, y)` gives the rotation's overrides that overlap [x, y). Feeds need
    whole periods so that an event keeps its start (and so its UID) as the window slides from
    one fetch to the next.
    """
    a, b = _aware(a, "a"), _aware(b, "b")
    near = overrides_between(a, b)
    # A period holding `a` began no earlier than its shift or its override did.
    shift = shift_at(rotation, a)
    anchor = min([a, *([shift.start] if shift else []), *(o.start for o in near if o.covers(a))])
    # And one starting before `b` ends within a shift of it, or with its override.
    end = max([b + rotation.shift + _CLOCK_CHANGE, *(o.end for o in near)])
    periods = shifts_between(rotation, anchor, end, overrides_between(anchor, end))
    return [p for p in periods if p.end > a and p.start < b]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class OnCallService:
    """Answers about rotations; each call opens its own unit of work."""

    def __init__(self, directory: Directory, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self.directory = directory
        self.uow = uow
        self.clock = clock
        # The directory's own: the same Rotation objects paging reads.
        self.rotations = directory.rotations
        self.names = directory.staff_names

    # ------------------------------------------------------------------ who is on call
    def answers(self, at: datetime) -> tuple[list[OnCall], list[Override]]:
        """Every rotation's answer at `at` (configuration order), and the overrides used."""
        at = _aware(at, "at")
        with self.uow() as uow:
            overrides = OverrideRepository(uow.session).all_active(at)
        return [on_call(rotation, at, overrides) for rotation in self.rotations.values()], overrides

    def who(self, at: datetime | None = None) -> dict[str, Any]:
        """The **oncall** object of docs/CONTRACT.md."""
        at = _aware(at, "at") if at is not None else self.clock.now().astimezone(UTC)
        answers, overrides = self.answers(at)
        return {
            "at": iso(at),
            "rotations": [self._answer_json(answer, at, overrides) for answer in answers],
        }

    def _answer_json(
        self, answer: OnCall, at: datetime, overrides: list[Override]
    ) -> dict[str, Any]:
        covering = [o for o in overrides if o.rotation == answer.rotation and o.covers(at) and o.id]
        # The newest covering override wins, as in routing.rotations.
        winner = max(covering, key=lambda o: o.id or 0) if covering else None
        return {
            "rotation": answer.rotation,
            "staff": answer.staff,
            "name": self.names.get(answer.staff) if answer.staff else None,
            "until": iso(answer.until),
            "next": answer.next,
            "next_name": self.names.get(answer.next) if answer.next else None,
            "override": winner.id if winner is not None else None,
        }

    def periods(self, rotation_id: str, a: datetime, b: datetime) -> list[OnCallPeriod]:
        """The rotation's on-call periods overlapping [a, b), whole (see `whole_periods`)."""
        with self.uow() as uow:
            repo = OverrideRepository(uow.session)
            return whole_periods(
                self.rotations[rotation_id], a, b, lambda x, y: repo.list_for(rotation_id, x, y)
            )

    # ------------------------------------------------------------------ coverage
    def coverage_gaps(self, at: datetime | None = None) -> list[Gap]:
        """The coverage gaps of the 90 days from `at` (default now), with the overrides stored
        in the database (bot.usecases.coverage; `partnerline check` sees the file alone)."""
        at = _aware(at, "at") if at is not None else self.clock.now().astimezone(UTC)
        with self.uow() as uow:
            overrides = OverrideRepository(uow.session).all_active(at)
        return gaps_ahead(self.directory, at, overrides)

    # ------------------------------------------------------------------ overrides
    def add_override(
        self, rotation: str, staff: str, start: datetime, end: datetime, created_by: str
    ) -> OverrideRecord:
        if rotation not in self.rotations:
            raise DomainError("unknown_rotation", f"no rotation {rotation!r}")
        if staff not in self.names:
            raise DomainError("unknown_staff", f"no staff member {staff!r}")
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            raise DomainError("override_empty", "an override must end after it starts")
        if end - start > MAX_OVERRIDE:
            raise DomainError(
                "override_too_long", f"an override may last at most {MAX_OVERRIDE.days} days"
            )
        with self.uow() as uow:
            record = OverrideRepository(uow.session).add(
                rotation, staff, start, end, created_by=created_by, at=self.clock.now()
            )
            uow.commit()
        return record

    def remove_override(self, override_id: int) -> None:
        with self.uow() as uow:
            if not OverrideRepository(uow.session).delete(override_id):
                raise NotFound("override_not_found", f"no override {override_id}")
            uow.commit()

    def list_overrides(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        rotation: str | None = None,
        staff: str | None = None,
        upcoming: bool = False,
    ) -> dict[str, Any]:
        """docs/CONTRACT.md's list shape, newest first; `upcoming`: only those not over yet."""
        before = _cursor(cursor)
        with self.uow() as uow:
            records, last = OverrideRepository(uow.session).page(
                limit=limit,
                before_id=before,
                rotation=rotation,
                staff=staff,
                ending_after=self.clock.now() if upcoming else None,
            )
        return {
            "items": [self.override_json(r) for r in records],
            "next_cursor": str(last) if last is not None else None,
        }

    def override_json(self, record: OverrideRecord) -> dict[str, Any]:
        o = record.override
        return {
            "id": o.id,
            "rotation": o.rotation,
            "staff": o.staff,
            "name": self.names.get(o.staff),
            "start": iso(o.start),
            "end": iso(o.end),
            "created_at": iso(record.created_at),
            "created_by": record.created_by,
        }


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError("naive_time", f"{what} needs a UTC offset, e.g. 2026-12-07T18:00-05:00")
    if not _EARLIEST <= value < _LATEST:
        raise DomainError("time_out_of_range", f"{what} must lie between the years 1970 and 2999")
    return value.astimezone(UTC)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return checked_row_id(cursor, "cursor")
    except MalformedPayload as exc:
        raise DomainError("bad_cursor", "cursor is not one this API gave out") from exc
