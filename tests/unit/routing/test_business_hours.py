"""BusinessCalendar: named edge cases on the example calendars, then properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from routing.business_hours import BusinessCalendar

DETROIT = ZoneInfo("America/Detroit")
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")
SYDNEY = ZoneInfo("Australia/Sydney")

H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def win(*spans: str) -> list[tuple[int, int]]:
    return [(hm(s.split("-")[0]), hm(s.split("-")[1])) for s in spans]


# examples/agency.toml "office", with a stand-in for its US/MI holidays and closed days (the
# holidays bridge itself is tested in tests/unit/test_calendars.py).
OFFICE_WEEK = {
    0: win("09:00-12:00", "13:00-17:30"),
    1: win("09:00-17:30"),
    2: win("09:00-17:30"),
    3: win("09:00-17:30"),
    4: win("09:00-16:00"),
}
OFFICE_CLOSED = frozenset(
    date.fromisoformat(d)
    for d in ("2026-11-26", "2026-11-27", "2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01")
)
WEEKDAYS_9_TO_5 = {d: win("09:00-17:00") for d in range(5)}


def office() -> BusinessCalendar:
    return BusinessCalendar("America/Detroit", OFFICE_WEEK, OFFICE_CLOSED.__contains__)


def london() -> BusinessCalendar:
    return BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5)


def det(*args: int) -> datetime:
    return datetime(*args, tzinfo=DETROIT)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- the office calendar


def test_open_at_window_start_closed_at_window_end() -> None:
    cal = office()
    assert cal.is_open(det(2026, 3, 3, 9, 0))
    assert cal.is_open(det(2026, 3, 3, 17, 30) - US)
    assert not cal.is_open(det(2026, 3, 3, 17, 30))
    assert not cal.is_open(det(2026, 3, 3, 9, 0) - US)


def test_monday_lunch_break_is_closed() -> None:
    cal = office()
    assert cal.is_open(det(2026, 3, 2, 11, 59))
    assert not cal.is_open(det(2026, 3, 2, 12, 0))
    assert not cal.is_open(det(2026, 3, 2, 12, 59))
    assert cal.is_open(det(2026, 3, 2, 13, 0))
    assert cal.is_open(det(2026, 3, 3, 12, 0))  # Tuesday has no break


def test_weekend_is_closed() -> None:
    cal = office()
    for hour in range(24):
        assert not cal.is_open(det(2026, 2, 7, hour))
        assert not cal.is_open(det(2026, 2, 8, hour))


def test_next_open_is_t_itself_when_open() -> None:
    t = det(2026, 3, 3, 10, 15, 7, 123456)
    assert office().next_open(t) == t
    assert office().next_open(t).tzinfo is UTC


def test_next_open_from_lunch_is_one_pm() -> None:
    assert office().next_open(det(2026, 3, 2, 12, 10)) == det(2026, 3, 2, 13, 0)


def test_next_open_from_window_end_is_next_morning() -> None:
    assert office().next_open(det(2026, 3, 3, 17, 30)) == det(2026, 3, 4, 9, 0)


def test_next_close_inside_and_outside_a_window() -> None:
    cal = office()
    assert cal.next_close(det(2026, 3, 2, 10, 0)) == det(2026, 3, 2, 12, 0)
    assert cal.next_close(det(2026, 3, 2, 12, 30)) == det(2026, 3, 2, 17, 30)
    assert cal.next_close(det(2026, 3, 13, 17, 0)) == det(2026, 3, 16, 12, 0)


def test_add_within_one_window() -> None:
    assert office().add(det(2026, 3, 3, 10, 0), 2 * H) == det(2026, 3, 3, 12, 0)


def test_add_skips_monday_lunch() -> None:
    assert office().add(det(2026, 3, 2, 11, 0), 2 * H) == det(2026, 3, 2, 14, 0)


def test_add_landing_on_window_end_stays_at_the_end() -> None:
    cal = office()
    assert cal.add(det(2026, 3, 3, 13, 30), 4 * H) == det(2026, 3, 3, 17, 30)
    assert cal.add(det(2026, 3, 2, 10, 0), 2 * H) == det(2026, 3, 2, 12, 0)


def test_add_from_closed_time_counts_from_next_opening() -> None:
    assert office().add(det(2026, 2, 7, 10, 0), 30 * M) == det(2026, 2, 9, 9, 30)
    assert office().add(det(2026, 3, 2, 12, 15), 30 * M) == det(2026, 3, 2, 13, 30)


def test_add_zero_is_t_when_open_and_next_opening_when_closed() -> None:
    cal = office()
    assert cal.add(det(2026, 3, 3, 10, 0), timedelta(0)) == det(2026, 3, 3, 10, 0)
    assert cal.add(det(2026, 3, 3, 17, 30), timedelta(0)) == det(2026, 3, 4, 9, 0)


def test_add_keeps_microseconds() -> None:
    t = det(2026, 3, 3, 10, 0, 0, 123456)
    assert office().add(t, H) == det(2026, 3, 3, 11, 0, 0, 123456)


def test_add_negative_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        office().add(det(2026, 3, 3, 10), -H)


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    # Friday closes at 16:00: one hour on Friday, three on Monday, ending at lunch.
    assert office().add(det(2026, 2, 6, 15, 0), 4 * H) == det(2026, 2, 9, 12, 0)


def test_between_counts_only_open_time() -> None:
    assert office().between(det(2026, 3, 2, 8, 0), det(2026, 3, 3, 10, 0)) == 8.5 * H


def test_between_is_zero_when_b_is_not_after_a() -> None:
    cal = office()
    t = det(2026, 3, 3, 10, 0)
    assert cal.between(t, t) == timedelta(0)
    assert cal.between(t + H, t) == timedelta(0)


def test_between_over_a_full_week() -> None:
    # Monday 7.5h, Tuesday to Thursday 8.5h each, Friday 7h.
    assert office().between(det(2026, 2, 9), det(2026, 2, 16)) == 40 * H


def test_holiday_on_a_window_day_is_closed() -> None:
    cal = office()
    christmas_eve = det(2026, 12, 24, 10, 0)  # a Thursday: normally 09:00-17:30
    assert not cal.is_open(christmas_eve)
    assert cal.next_open(christmas_eve) == det(2026, 12, 28, 9, 0)  # Friday 25th is closed too
    assert cal.between(det(2026, 12, 24), det(2026, 12, 26)) == timedelta(0)


def test_year_end_rollover() -> None:
    cal = office()
    start = det(2026, 12, 30, 16, 0)  # 1.5h left; 31st and 1st closed; then the weekend
    due = cal.add(start, 4 * H)
    assert due == det(2027, 1, 4, 11, 30)
    assert cal.between(start, due) == 4 * H


def test_week_end_rollover_sunday_night_to_monday() -> None:
    cal = london()
    sunday_night = datetime(2026, 2, 8, 23, 0, tzinfo=LONDON)
    assert cal.next_open(sunday_night) == datetime(2026, 2, 9, 9, 0, tzinfo=LONDON)
    assert cal.add(sunday_night, 8 * H) == datetime(2026, 2, 9, 17, 0, tzinfo=LONDON)


def test_between_across_years_equals_the_sum_of_the_parts() -> None:
    cal = office()
    a, b, c = det(2026, 6, 1), det(2027, 1, 1), det(2027, 8, 1)
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)
    assert cal.between(a, c) > 400 * H


def test_add_spanning_more_than_a_year() -> None:
    cal = office()
    start = det(2026, 1, 5, 9, 0)
    due = cal.add(start, 2500 * H)
    assert due.year == 2027
    assert cal.between(start, due) == 2500 * H


def test_queries_far_apart_in_time() -> None:
    cal = office()
    assert cal.add(det(2026, 3, 3, 10), H) == det(2026, 3, 3, 11)
    assert cal.add(det(2045, 3, 7, 10), H) == det(2045, 3, 7, 11)  # a Tuesday
    assert cal.add(det(1999, 3, 2, 17), H) == det(1999, 3, 3, 9, 30)  # a Tuesday
    assert cal.add(det(2026, 3, 3, 10), H) == det(2026, 3, 3, 11)


def test_results_are_utc() -> None:
    cal = office()
    t = det(2026, 3, 3, 10)
    for result in (cal.next_open(t), cal.next_close(t), cal.add(t, H)):
        assert result.tzinfo is UTC


def test_input_in_any_zone_means_the_same_instant() -> None:
    cal = office()
    t = det(2026, 3, 3, 16, 0)
    in_tokyo = t.astimezone(ZoneInfo("Asia/Tokyo"))
    assert cal.add(in_tokyo, 2 * H) == cal.add(t, 2 * H) == det(2026, 3, 4, 9, 30)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        office().is_open(datetime(2026, 3, 3, 10, 0))


# ---------------------------------------------------------------- DST, midnight, odd offsets


def test_add_crosses_spring_forward_gap_detroit() -> None:
    cal = office()
    friday = det(2026, 3, 6, 15, 0)  # EST, UTC-5
    due = cal.add(friday, 2 * H)
    assert due == utc(2026, 3, 9, 14, 0)  # Monday 10:00 EDT, UTC-4
    assert due == det(2026, 3, 9, 10, 0)


def test_window_across_spring_forward_gap_is_one_hour() -> None:
    cal = BusinessCalendar(DETROIT, {6: win("01:30-03:30")})
    assert cal.between(det(2026, 3, 8), det(2026, 3, 9)) == H
    assert cal.next_open(det(2026, 3, 8)) == utc(2026, 3, 8, 6, 30)  # 01:30 EST
    assert cal.next_close(utc(2026, 3, 8, 6, 30)) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert cal.is_open(utc(2026, 3, 8, 7, 0))  # 03:00 EDT, right after the jump
    assert cal.between(det(2026, 3, 15), det(2026, 3, 16)) == 2 * H  # an ordinary Sunday


def test_window_inside_spring_forward_gap_has_zero_length() -> None:
    cal = BusinessCalendar(DETROIT, {6: win("02:15-02:45")})
    # The March Sundays 1, 15, 22 and 29 have it; the 8th has no 02:15 at all.
    assert cal.between(det(2026, 3, 1), det(2026, 4, 1)) == 4 * 30 * M
    assert cal.between(det(2026, 3, 8), det(2026, 3, 9)) == timedelta(0)
    assert cal.next_open(det(2026, 3, 8)) == det(2026, 3, 15, 2, 15)


def test_window_ending_in_spring_forward_gap_ends_at_the_jump() -> None:
    cal = BusinessCalendar(DETROIT, {6: win("01:30-02:30")})
    assert cal.between(det(2026, 3, 8), det(2026, 3, 9)) == 30 * M
    assert cal.next_close(det(2026, 3, 8, 1, 45)) == utc(2026, 3, 8, 7, 0)


def test_always_open_calendar_skips_the_missing_hour() -> None:
    cal = BusinessCalendar(DETROIT, {d: win("00:00-24:00") for d in range(7)})
    assert cal.add(det(2026, 3, 8, 0, 0), 3 * H) == det(2026, 3, 8, 4, 0)
    assert cal.between(det(2026, 3, 8), det(2026, 3, 9)) == 23 * H


def test_fall_back_repeated_hour_counts_twice() -> None:
    cal = BusinessCalendar(DETROIT, {6: win("01:00-02:00")})
    assert cal.between(det(2026, 11, 1), det(2026, 11, 2)) == 2 * H
    assert cal.next_open(det(2026, 11, 1)) == utc(2026, 11, 1, 5, 0)  # 01:00 EDT
    assert cal.next_close(utc(2026, 11, 1, 5, 0)) == utc(2026, 11, 1, 7, 0)  # 02:00 EST


def test_fall_back_window_inside_the_repeated_hour_opens_twice() -> None:
    cal = BusinessCalendar(DETROIT, {6: win("01:15-01:45")})
    assert cal.between(det(2026, 11, 1), det(2026, 11, 2)) == H
    assert cal.is_open(utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert not cal.is_open(utc(2026, 11, 1, 6, 0))  # 01:00 EST
    assert cal.is_open(utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert cal.next_open(utc(2026, 11, 1, 5, 50)) == utc(2026, 11, 1, 6, 15)


def test_fall_back_whole_day_is_25_hours() -> None:
    cal = BusinessCalendar(DETROIT, {6: win("00:00-24:00")})
    assert cal.between(det(2026, 10, 31), det(2026, 11, 3)) == 25 * H
    assert cal.add(det(2026, 11, 1), 25 * H) == det(2026, 11, 2)


def test_window_to_midnight_joins_next_day() -> None:
    cal = BusinessCalendar(DETROIT, {0: win("18:00-24:00"), 1: win("00:00-06:00")})
    assert cal.next_close(det(2026, 3, 2, 20, 0)) == det(2026, 3, 3, 6, 0)
    assert cal.is_open(det(2026, 3, 3, 0, 0))
    assert cal.add(det(2026, 3, 2, 23, 0), 2 * H) == det(2026, 3, 3, 1, 0)
    assert cal.between(det(2026, 3, 2, 17, 0), det(2026, 3, 3, 7, 0)) == 12 * H


def test_whole_day_windows_wrap_sunday_into_monday() -> None:
    cal = BusinessCalendar(LONDON, {6: win("00:00-24:00"), 0: win("00:00-24:00")})
    sunday = datetime(2026, 2, 8, 10, 0, tzinfo=LONDON)
    assert cal.next_close(sunday) == datetime(2026, 2, 10, 0, 0, tzinfo=LONDON)
    assert cal.next_open(datetime(2026, 2, 10, 0, 0, tzinfo=LONDON)) == datetime(
        2026, 2, 15, 0, 0, tzinfo=LONDON
    )


def test_always_open_never_closes() -> None:
    cal = BusinessCalendar(LONDON, {d: win("00:00-24:00") for d in range(7)})
    t = datetime(2026, 2, 8, tzinfo=LONDON)
    assert cal.always_open
    assert cal.next_close(t) is None
    assert cal.next_open(t) == t
    assert cal.add(t, 5 * H) == t + 5 * H
    assert cal.between(t, t + timedelta(days=400)) == timedelta(days=400)


def test_kolkata_half_hour_offset() -> None:
    cal = BusinessCalendar(KOLKATA, WEEKDAYS_9_TO_5)
    assert not cal.is_open(utc(2026, 3, 2, 3, 29))
    assert cal.is_open(utc(2026, 3, 2, 3, 30))  # Monday 09:00 IST, UTC+05:30
    assert cal.next_close(utc(2026, 3, 2, 4, 0)) == utc(2026, 3, 2, 11, 30)
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=KOLKATA)
    assert cal.add(friday, H) == utc(2026, 3, 9, 4, 0)  # Monday 09:30 IST


def test_sydney_october_dst_start() -> None:
    cal = BusinessCalendar(SYDNEY, WEEKDAYS_9_TO_5)
    friday = datetime(2026, 10, 2, 16, 0, tzinfo=SYDNEY)  # AEST, UTC+10
    assert friday == utc(2026, 10, 2, 6, 0)
    assert cal.next_open(friday + H) == utc(2026, 10, 4, 22, 0)  # Monday 09:00 AEDT, UTC+11
    assert cal.add(friday, 2 * H) == utc(2026, 10, 4, 23, 0)
    gap_day = BusinessCalendar(SYDNEY, {6: win("01:30-03:30")})
    assert (
        gap_day.between(datetime(2026, 10, 4, tzinfo=SYDNEY), datetime(2026, 10, 5, tzinfo=SYDNEY))
        == H
    )


def test_sydney_april_dst_end_repeats_an_hour() -> None:
    cal = BusinessCalendar(SYDNEY, {6: win("02:00-03:00")})
    day = datetime(2026, 4, 5, tzinfo=SYDNEY)
    assert cal.between(day, day + 2 * timedelta(days=1)) == 2 * H
    week = BusinessCalendar(SYDNEY, WEEKDAYS_9_TO_5)
    friday = datetime(2026, 4, 3, 16, 0, tzinfo=SYDNEY)  # AEDT, UTC+11
    assert week.add(friday, 2 * H) == utc(2026, 4, 6, 0, 0)  # Monday 10:00 AEST, UTC+10


def test_london_bst_start_moves_the_utc_opening() -> None:
    cal = london()
    assert cal.next_open(datetime(2026, 3, 27, 8, 0, tzinfo=LONDON)) == utc(2026, 3, 27, 9, 0)
    assert cal.next_open(datetime(2026, 3, 28, 12, 0, tzinfo=LONDON)) == utc(2026, 3, 30, 8, 0)
    assert cal.between(utc(2026, 3, 27, 9, 0), utc(2026, 3, 30, 16, 0)) == 16 * H


def test_london_bst_end_moves_it_back() -> None:
    cal = london()
    assert cal.next_open(datetime(2026, 10, 24, tzinfo=LONDON)) == utc(2026, 10, 26, 9, 0)
    assert cal.add(utc(2026, 10, 23, 15, 0), 2 * H) == utc(2026, 10, 26, 10, 0)  # 16:00 BST Fri


# ---------------------------------------------------------------- degenerate calendars


def test_calendar_without_windows_is_always_closed() -> None:
    cal = BusinessCalendar(DETROIT, {})
    assert not cal.has_any_window
    assert not any(cal.is_open(det(2026, 1, 1) + n * 7 * H) for n in range(1300))
    assert cal.between(det(2026, 1, 1), det(2027, 1, 1)) == timedelta(0)
    assert cal.next_open(det(2026, 1, 1)) is None
    assert cal.next_close(det(2026, 1, 1)) is None
    assert cal.add(det(2026, 1, 1), H) is None
    assert cal.add(det(2026, 1, 1), timedelta(0)) is None
    assert cal.next_open_epoch(0.0) is None and cal.add_epoch(0.0, 60.0) is None


def test_every_day_closed_answers_never_instead_of_looping() -> None:
    cal = BusinessCalendar(DETROIT, OFFICE_WEEK, lambda _day: True)
    assert cal.has_any_window
    assert cal.next_open(det(2026, 1, 1)) is None
    assert cal.next_close(det(2026, 1, 1)) is None
    assert cal.add(det(2026, 1, 1), H) is None


@pytest.mark.parametrize(
    "weekly",
    [{0: [(600, 600)]}, {0: [(-1, 10)]}, {0: [(0, 1441)]}, {7: [(0, 60)]}, {0: [(700, 600)]}],
    ids=["empty", "negative", "past-midnight", "weekday-7", "reversed"],
)
def test_invalid_windows_are_rejected(weekly: dict[int, list[tuple[int, int]]]) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(DETROIT, weekly)


def test_overlapping_windows_are_merged() -> None:
    cal = BusinessCalendar(DETROIT, {0: win("09:00-12:00", "11:00-13:00")})
    assert cal.between(det(2026, 3, 2), det(2026, 3, 3)) == 4 * H
    assert cal.weekly[0] == ((540, 780),)


def test_unknown_timezone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        BusinessCalendar("Mars/Olympus", WEEKDAYS_9_TO_5)


# ---------------------------------------------------------------- every calendar has an answer
# A configuration may describe any of these; each query answers, with None for "never".

KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
ST_JOHNS = ZoneInfo("America/St_Johns")  # UTC-03:30, DST -02:30 (2026: Mar 8, Nov 1)
ALL_DAY = {d: win("00:00-24:00") for d in range(7)}


def test_never_open_calendar_in_sydney_answers_never_to_everything() -> None:
    cal = BusinessCalendar(SYDNEY, {})
    t = datetime(2026, 12, 7, 23, 30, tzinfo=SYDNEY)
    assert not cal.is_open(t)
    assert cal.next_open(t) is None
    assert cal.next_close(t) is None
    assert cal.add(t, 30 * M) is None
    assert cal.between(t, t + timedelta(days=3650)) == timedelta(0)
    ts = t.timestamp()
    assert cal.open_add_epoch(ts, 60.0) is None and cal.next_close_epoch(ts) is None


@pytest.mark.parametrize("zone", [KOLKATA, ST_JOHNS, KIRITIMATI, PAGO_PAGO], ids=str)
def test_always_open_calendar_never_closes_and_counts_wall_clock_time(zone: ZoneInfo) -> None:
    cal = BusinessCalendar(zone, ALL_DAY)
    # In UTC, so that + is elapsed time across St John's spring-forward night.
    t = datetime(2026, 3, 7, 12, tzinfo=zone).astimezone(UTC)
    assert cal.is_open(t) and cal.is_open(t + 1000 * H)
    assert cal.next_close(t) is None
    assert cal.next_open(t) == t
    assert cal.add(t, 24 * H) == t + 24 * H
    assert cal.between(t, t + 24 * H) == 24 * H


def test_always_open_with_a_closed_day_predicate_finds_no_closing_either() -> None:
    # Built the way a configuration with holidays builds it: a predicate that never says yes.
    cal = BusinessCalendar(KOLKATA, ALL_DAY, lambda _day: False)
    assert not cal.always_open
    t = datetime(2026, 12, 7, 10, tzinfo=KOLKATA)
    assert cal.next_close(t) is None
    assert cal.next_close_epoch(t.timestamp()) is None
    assert cal.add(t, 3 * H) == t + 3 * H


def test_always_open_st_johns_day_of_the_spring_gap_is_23_hours() -> None:
    cal = BusinessCalendar(ST_JOHNS, ALL_DAY, lambda _day: False)
    a, b = datetime(2026, 3, 8, tzinfo=ST_JOHNS), datetime(2026, 3, 9, tzinfo=ST_JOHNS)
    assert cal.between(a, b) == 23 * H
    assert cal.next_close(a) is None


@pytest.mark.parametrize("zone", [KIRITIMATI, PAGO_PAGO], ids=str)
def test_one_hour_a_week_east_and_west_of_utc(zone: ZoneInfo) -> None:
    cal = BusinessCalendar(zone, {2: win("10:00-11:00")})  # Wednesdays 10-11 local
    wednesday = datetime(2026, 12, 9, 10, 30, tzinfo=zone)
    assert cal.is_open(wednesday)
    assert cal.next_close(wednesday) == datetime(2026, 12, 9, 11, tzinfo=zone)
    after = datetime(2026, 12, 9, 11, tzinfo=zone)
    assert not cal.is_open(after)
    assert cal.next_open(after) == datetime(2026, 12, 16, 10, tzinfo=zone)
    assert cal.add(after, 2 * H) == datetime(2026, 12, 23, 11, tzinfo=zone)
    assert cal.between(after, after + 4 * timedelta(weeks=1)) == 4 * H


def test_one_hour_a_week_in_kiritimati_opens_on_tuesday_utc() -> None:
    cal = BusinessCalendar(KIRITIMATI, {2: win("10:00-11:00")})
    assert cal.next_open(utc(2026, 12, 7)) == utc(2026, 12, 8, 20, 0)


def test_window_across_st_johns_spring_gap_loses_the_missing_hour() -> None:
    cal = BusinessCalendar(ST_JOHNS, {6: win("01:00-03:00")})  # 02:00 jumps to 03:00
    day = datetime(2026, 3, 8, tzinfo=ST_JOHNS)
    assert cal.between(day, day + 24 * H) == H
    assert cal.next_close(datetime(2026, 3, 8, 1, 30, tzinfo=ST_JOHNS)) == utc(2026, 3, 8, 5, 30)
    fall = datetime(2026, 11, 1, tzinfo=ST_JOHNS)
    assert cal.between(fall, fall + 25 * H) == 3 * H  # 01:00-02:00 happens twice


def test_closed_only_on_holidays_closes_for_the_holidays() -> None:
    christmas = {date(2026, 12, 25), date(2026, 12, 26)}
    cal = BusinessCalendar(SYDNEY, ALL_DAY, christmas.__contains__)
    first = datetime(2026, 12, 1, tzinfo=SYDNEY)
    assert cal.is_open(first)
    assert cal.next_close(first) == datetime(2026, 12, 25, tzinfo=SYDNEY)
    assert cal.next_open(datetime(2026, 12, 25, 10, tzinfo=SYDNEY)) == datetime(
        2026, 12, 27, tzinfo=SYDNEY
    )
    assert cal.add(datetime(2026, 12, 24, 22, tzinfo=SYDNEY), 4 * H) == datetime(
        2026, 12, 27, 2, tzinfo=SYDNEY
    )
    # Sydney's spring-forward day is 23 hours long, all of them open.
    spring = datetime(2026, 10, 4, tzinfo=SYDNEY)
    assert cal.between(spring, datetime(2026, 10, 5, tzinfo=SYDNEY)) == 23 * H


def test_windows_only_on_closed_days_never_reach_the_business_time() -> None:
    # Open this one Monday morning, then every later window falls on a closed day.
    cal = BusinessCalendar(DETROIT, WEEKDAYS_9_TO_5, lambda day: day > date(2026, 3, 2))
    t = det(2026, 3, 2, 16, 0)
    assert cal.is_open(t)
    assert cal.add(t, 30 * M) == det(2026, 3, 2, 16, 30)
    assert cal.add(t, 2 * H) is None
    assert cal.next_close(t) == det(2026, 3, 2, 17, 0)
    assert cal.next_open(det(2026, 3, 2, 17, 0)) is None


def test_zone_by_name_equals_zoneinfo() -> None:
    by_name = BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5)
    by_zone = BusinessCalendar(LONDON, WEEKDAYS_9_TO_5)
    t = utc(2026, 3, 27, 16, 30)
    assert by_name.add(t, 3 * H) == by_zone.add(t, 3 * H) == utc(2026, 3, 30, 10, 30)


def test_epoch_variants_agree_with_datetimes() -> None:
    cal = office()
    for t in (det(2026, 3, 2, 11, 0), det(2026, 3, 6, 15, 30), det(2026, 12, 30, 16, 0)):
        ts = t.timestamp()
        assert cal.is_open_epoch(ts) == cal.is_open(t)
        assert cal.next_open_epoch(ts) == cal.next_open(t).timestamp()
        assert cal.next_close_epoch(ts) == cal.next_close(t).timestamp()
        assert cal.add_epoch(ts, 4 * 3600) == cal.add(t, 4 * H).timestamp()
        day_later = t.astimezone(UTC) + 24 * H
        assert cal.between_epoch(ts, ts + 86400) == cal.between(t, day_later).total_seconds()


def test_open_add_epoch_is_none_when_closed() -> None:
    cal = office()
    assert cal.open_add_epoch(det(2026, 3, 2, 12, 30).timestamp(), 1800) is None
    assert cal.open_add_epoch(det(2026, 3, 2, 11, 45).timestamp(), 1800) == (
        det(2026, 3, 2, 13, 15).timestamp()
    )


# ---------------------------------------------------------------- properties

ZONES = [
    "America/Detroit",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a half-hour DST shift
    "America/St_Johns",  # UTC-03:30 / -02:30
    "UTC",
]
# Transition days (local) of the zones above in 2026, where bugs would live.
HOT_DAYS = [
    date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29), date(2026, 10, 25),
    date(2026, 4, 5), date(2026, 10, 4), date(2026, 12, 31), date(2026, 1, 1),
]  # fmt: skip


@st.composite
def weeks(draw: st.DrawFn) -> dict[int, list[tuple[int, int]]]:
    weekly = {}
    for weekday in range(7):
        quarters = draw(st.sets(st.integers(0, 96), max_size=4))
        bounds = sorted(quarters)[: len(quarters) // 2 * 2]
        weekly[weekday] = [(bounds[i] * 15, bounds[i + 1] * 15) for i in range(0, len(bounds), 2)]
    return weekly


@st.composite
def calendars(draw: st.DrawFn) -> tuple[BusinessCalendar, Callable[[datetime], bool]]:
    """A calendar and an independent wall-clock definition of when it is open."""
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    weekly = draw(st.one_of(st.just(OFFICE_WEEK), st.just(WEEKDAYS_9_TO_5), weeks()))
    if not any(weekly.values()):
        weekly = WEEKDAYS_9_TO_5
    every = draw(st.sampled_from([0, 5, 11]))

    def closed(day: date) -> bool:
        return every > 0 and day.toordinal() % every == 0

    def wall_open(t: datetime) -> bool:
        local = t.astimezone(zone)
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        windows = weekly.get(local.weekday(), [])
        return not closed(local.date()) and any(s <= minute < e for s, e in windows)

    return BusinessCalendar(zone, weekly, closed), wall_open


uniform_instants = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)
)
hot_instants = st.builds(
    lambda day, seconds: (
        datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)
    ),
    st.sampled_from(HOT_DAYS),
    st.integers(-2 * 86400, 2 * 86400),
)
instants = st.one_of(uniform_instants, hot_instants)
durations = st.one_of(
    st.integers(0, 3 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us)),
    st.integers(0, 72).map(lambda q: q * 15 * M),
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), instants, durations)
def test_add_then_between_round_trips(cal_and_oracle, t, d) -> None:
    cal, _ = cal_and_oracle
    assert cal.between(t, cal.add(t, d)) == d


@PROPERTY
@given(calendars(), instants, durations)
def test_add_result_is_open_or_exactly_a_window_end(cal_and_oracle, t, d) -> None:
    cal, wall_open = cal_and_oracle
    result = cal.add(t, d)
    assert result >= t
    assert wall_open(result) or (d > timedelta(0) and wall_open(result - US))


@PROPERTY
@given(calendars(), instants, instants, durations)
def test_add_and_next_open_are_monotonic_in_t(cal_and_oracle, t1, t2, d) -> None:
    cal, _ = cal_and_oracle
    t1, t2 = sorted((t1, t2))
    assert cal.add(t1, d) <= cal.add(t2, d)
    assert cal.next_open(t1) <= cal.next_open(t2)


@PROPERTY
@given(calendars(), instants)
def test_is_open_matches_the_wall_clock_definition(cal_and_oracle, t) -> None:
    cal, wall_open = cal_and_oracle
    assert cal.is_open(t) == wall_open(t)
    opens = cal.next_open(t)
    assert wall_open(opens)
    assert opens == t or not wall_open(opens - US)
    closes = cal.next_close(t)
    assume(closes is not None)  # open without a break for the whole horizon
    assert closes > opens and not wall_open(closes) and wall_open(closes - US)


@settings(max_examples=25, deadline=None)
@given(calendars(), instants)
def test_between_matches_a_minute_by_minute_count(cal_and_oracle, t) -> None:
    cal, wall_open = cal_and_oracle
    start = t.replace(second=0, microsecond=0)
    minutes = sum(wall_open(start + n * M) for n in range(2 * 1440))
    assert cal.between(start, start + 2 * 1440 * M) == minutes * M


@PROPERTY
@given(calendars(), instants, instants, instants)
def test_between_is_additive(cal_and_oracle, a, b, c) -> None:
    cal, _ = cal_and_oracle
    a, b, c = sorted((a, b, c))
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)


@PROPERTY
@given(calendars(), instants, durations)
def test_epoch_api_matches_datetime_api(cal_and_oracle, t, d) -> None:
    cal, _ = cal_and_oracle
    ts = t.timestamp()
    assert cal.is_open_epoch(ts) == cal.is_open(t)
    assert cal.add_epoch(ts, d.total_seconds()) == pytest.approx(
        cal.add(t, d).timestamp(), abs=1e-5
    )
    assert cal.next_open_epoch(ts) == pytest.approx(cal.next_open(t).timestamp(), abs=1e-5)


@st.composite
def any_calendars(draw: st.DrawFn) -> tuple[BusinessCalendar, str]:
    """Every shape a configuration can give: never open, always open, sparse, ordinary."""
    zone = ZoneInfo(draw(st.sampled_from([*ZONES, "Pacific/Kiritimati", "Pacific/Pago_Pago"])))
    shape = draw(st.sampled_from(["never", "always", "holidays", "weekly"]))
    if shape == "never":
        return BusinessCalendar(zone, {}), shape
    if shape == "always":
        return BusinessCalendar(
            zone, ALL_DAY, draw(st.sampled_from([None, lambda _d: False]))
        ), shape
    if shape == "holidays":
        return BusinessCalendar(zone, ALL_DAY, lambda day: day.toordinal() % 41 == 0), shape
    weekly = draw(weeks())
    return BusinessCalendar(zone, weekly), "never" if not any(weekly.values()) else shape


@PROPERTY
@given(any_calendars(), instants, durations)
def test_every_query_answers_for_every_calendar(cal_and_shape, t, d) -> None:
    cal, shape = cal_and_shape
    opens, closes, added = cal.next_open(t), cal.next_close(t), cal.add(t, d)
    assert cal.between(t, t + d) <= d
    if shape == "never":
        assert not cal.is_open(t) and (opens, closes, added) == (None, None, None)
        return
    if shape == "always":
        assert cal.is_open(t) and opens == t and closes is None and added == t + d
        return
    # Anything with a window opens within a week (or two holidays); then it must close.
    assert opens is not None and opens >= t and cal.is_open(opens)
    assert closes is not None and closes > opens and not cal.is_open(closes)
    assert added is not None and cal.between(t, added) == d
