"""The holidays bridge: calendars built from configuration values close on public holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.usecases.calendars import build_calendar, holiday_predicate

DETROIT = ZoneInfo("America/Detroit")
LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)

# examples/agency.toml, [hours.office] and [hours.london]
OFFICE_WEEK = {
    0: [(540, 720), (780, 1050)],
    1: [(540, 1050)],
    2: [(540, 1050)],
    3: [(540, 1050)],
    4: [(540, 960)],
}
LONDON_WEEK = {d: [(540, 1020)] for d in range(5)}


def office():
    return build_calendar(
        "America/Detroit", OFFICE_WEEK, "US", "MI", [date(2026, 12, 24), date(2026, 12, 31)]
    )


def london():
    return build_calendar("Europe/London", LONDON_WEEK, "GB", "ENG", [])


def det(*args: int) -> datetime:
    return datetime(*args, tzinfo=DETROIT)


def lon(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_ordinary_weekday_is_open() -> None:
    assert office().is_open(det(2026, 11, 24, 10, 0))
    assert london().is_open(lon(2026, 11, 24, 10, 0))


def test_thanksgiving_is_closed_for_us_mi() -> None:
    cal = office()
    assert not cal.is_open(det(2026, 11, 26, 10, 0))
    # Michigan also closes the day after Thanksgiving, so the next opening is Monday.
    assert cal.next_open(det(2026, 11, 26, 10, 0)) == det(2026, 11, 30, 9, 0)


def test_christmas_day_is_closed() -> None:
    assert not office().is_open(det(2026, 12, 25, 10, 0))
    assert not london().is_open(lon(2026, 12, 25, 10, 0))


def test_observed_holiday_is_closed() -> None:
    # 4 July 2026 is a Saturday; the Friday before is the observed holiday.
    assert not office().is_open(det(2026, 7, 3, 10, 0))
    # 26 December 2026 is a Saturday; England observes Boxing Day on Monday the 28th.
    assert not london().is_open(lon(2026, 12, 28, 10, 0))


def test_gb_eng_bank_holiday_is_closed() -> None:
    cal = london()
    assert not cal.is_open(lon(2026, 8, 31, 10, 0))  # Late Summer Bank Holiday
    assert not cal.is_open(lon(2026, 4, 6, 10, 0))  # Easter Monday
    assert cal.next_open(lon(2026, 8, 28, 17, 0)) == lon(2026, 9, 1, 9, 0)


def test_scottish_bank_holiday_is_open_in_england() -> None:
    assert london().is_open(lon(2026, 11, 30, 10, 0))  # St Andrew's Day, Scotland only


def test_extra_closed_dates_are_closed() -> None:
    cal = build_calendar("America/Detroit", OFFICE_WEEK, None, None, [date(2026, 3, 4)])
    assert not cal.is_open(det(2026, 3, 4, 10, 0))
    assert cal.add(det(2026, 3, 3, 17, 0), H) == det(2026, 3, 5, 9, 30)


def test_example_closed_days_are_closed() -> None:
    cal = office()
    assert not cal.is_open(det(2026, 12, 24, 10, 0))
    assert not cal.is_open(det(2026, 12, 31, 10, 0))
    assert cal.next_open(det(2026, 12, 30, 18, 0)) == det(2027, 1, 4, 9, 0)


def test_holidays_of_later_years_are_known() -> None:
    cal = office()
    assert not cal.is_open(det(2027, 11, 25, 10, 0))  # Thanksgiving 2027
    assert cal.is_open(det(2027, 11, 23, 10, 0))


def test_without_holiday_country_only_the_weekly_windows_count() -> None:
    cal = build_calendar("America/Detroit", OFFICE_WEEK, None, None, [])
    assert cal.is_open(det(2026, 11, 26, 10, 0))


def test_example_windows_survive_the_bridge() -> None:
    cal = office()
    assert not cal.is_open(det(2026, 3, 2, 12, 30))  # Monday lunch
    assert cal.between(det(2026, 2, 9), det(2026, 2, 16)) == 40 * H


def test_unknown_country_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="XX"):
        build_calendar("UTC", LONDON_WEEK, "XX", None, [])


def test_unknown_subdivision_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="US/ZZ"):
        build_calendar("UTC", LONDON_WEEK, "US", "ZZ", [])


def test_subdivision_without_country_is_rejected() -> None:
    with pytest.raises(ValueError, match="country"):
        build_calendar("UTC", LONDON_WEEK, None, "MI", [])


def test_holiday_predicate_alone() -> None:
    is_holiday = holiday_predicate("US", "MI")
    assert is_holiday(date(2026, 11, 26))
    assert not is_holiday(date(2026, 11, 24))
