"""Stored overrides over real SQLite and PostgreSQL: round trip, overlap queries, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from routing.rotations import Override
from storage.db import Database
from storage.overrides import OverrideRepository
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
H = timedelta(hours=1)


def add(db: Database, rotation: str, staff: str, start: datetime, end: datetime) -> int:
    with UnitOfWork(db) as uow:
        record = OverrideRepository(uow.session).add(
            rotation, staff, start, end, created_by="admin", at=T0
        )
        uow.commit()
        return record.id


def test_an_override_comes_back_as_the_domain_object_in_utc(database: Database) -> None:
    detroit = timezone(timedelta(hours=-5))
    start = datetime(2026, 12, 7, 17, 30, tzinfo=detroit)
    override_id = add(database, "after-hours", "ana", start, start + 12 * H)
    with UnitOfWork(database) as uow:
        record = OverrideRepository(uow.session).get(override_id)
    assert record is not None
    assert record.override == Override(
        override_id, "after-hours", "ana", start.astimezone(UTC), (start + 12 * H).astimezone(UTC)
    )
    assert record.override.start.tzinfo is UTC
    assert record.override.start.hour == 22
    assert record.created_by == "admin"
    assert record.created_at == T0


def test_nothing_is_stored_without_commit(database: Database) -> None:
    with UnitOfWork(database) as uow:
        OverrideRepository(uow.session).add(
            "after-hours", "ana", T0, T0 + H, created_by="admin", at=T0
        )
    with UnitOfWork(database) as uow:
        assert OverrideRepository(uow.session).all_active(T0 - H) == []


def test_list_for_returns_the_rotations_overrides_that_overlap_the_range(
    database: Database,
) -> None:
    before = add(database, "after-hours", "ana", T0 - 3 * H, T0 - H)  # ends before the range
    touching = add(database, "after-hours", "raj", T0 - H, T0)  # ends where it starts
    inside = add(database, "after-hours", "jim", T0 + H, T0 + 2 * H)
    across = add(database, "after-hours", "kim", T0 - H, T0 + 10 * H)
    add(database, "leadership", "ana", T0, T0 + H)  # another rotation
    after = add(database, "after-hours", "ana", T0 + 4 * H, T0 + 5 * H)  # starts at the end
    with UnitOfWork(database) as uow:
        found = OverrideRepository(uow.session).list_for("after-hours", T0, T0 + 4 * H)
    assert [o.id for o in found] == [inside, across]
    assert {before, touching, after}.isdisjoint(o.id for o in found)


def test_all_active_keeps_current_and_upcoming_overrides_of_every_rotation(
    database: Database,
) -> None:
    add(database, "after-hours", "ana", T0 - 3 * H, T0)  # over exactly at T0
    current = add(database, "after-hours", "raj", T0 - H, T0 + H)
    upcoming = add(database, "leadership", "jim", T0 + 5 * H, T0 + 6 * H)
    with UnitOfWork(database) as uow:
        active = OverrideRepository(uow.session).all_active(T0)
    assert [(o.id, o.rotation) for o in active] == [
        (current, "after-hours"),
        (upcoming, "leadership"),
    ]


def test_delete_removes_only_that_override_and_says_whether_it_existed(
    database: Database,
) -> None:
    keep = add(database, "after-hours", "ana", T0, T0 + H)
    gone = add(database, "after-hours", "raj", T0, T0 + H)
    with UnitOfWork(database) as uow:
        repo = OverrideRepository(uow.session)
        assert repo.delete(gone) is True
        assert repo.delete(gone) is False
        uow.commit()
    with UnitOfWork(database) as uow:
        assert [o.id for o in OverrideRepository(uow.session).all_active(T0)] == [keep]


def test_pages_run_newest_first_with_filters(database: Database) -> None:
    ids = [add(database, "after-hours", "ana", T0 + i * H, T0 + (i + 1) * H) for i in range(5)]
    add(database, "leadership", "kim", T0, T0 + H)
    with UnitOfWork(database) as uow:
        repo = OverrideRepository(uow.session)
        first, cursor = repo.page(limit=2, rotation="after-hours")
        second, cursor2 = repo.page(limit=2, rotation="after-hours", before_id=cursor)
        third, cursor3 = repo.page(limit=2, rotation="after-hours", before_id=cursor2)
        late, _ = repo.page(limit=10, ending_after=T0 + 3 * H, staff="ana")
    assert [r.id for r in first + second + third] == ids[::-1]
    assert cursor3 is None
    assert [r.id for r in late] == [ids[4], ids[3]]


def test_naive_or_empty_ranges_are_refused_before_reaching_the_database(
    database: Database,
) -> None:
    with UnitOfWork(database) as uow:
        repo = OverrideRepository(uow.session)
        with pytest.raises(ValueError, match="timezone-aware"):
            repo.add("after-hours", "ana", T0.replace(tzinfo=None), T0 + H, created_by="a", at=T0)
        with pytest.raises(ValueError, match="end after it starts"):
            repo.add("after-hours", "ana", T0, T0, created_by="a", at=T0)
