"""On-call rotations: wall-clock handoffs across DST, after-hours turns, overrides."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.business_hours import BusinessCalendar
from routing.rotations import (
    OnCall,
    OnCallPeriod,
    Override,
    Rotation,
    Shift,
    handoff_at,
    offset_on_call,
    on_call,
    shift_at,
    shifts_between,
)

DETROIT = ZoneInfo("America/Detroit")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
WEEK = timedelta(weeks=1)
MEMBERS = ("jim", "ana", "raj")


class WeeklyWindowsTestCalendar:
    """A stand-in for routing.business_hours in these tests: fixed weekly windows, no holidays.

    `windows` maps a weekday (Monday = 0) to its open (start, end) wall times in `tz`.
    """

    def __init__(self, tz: ZoneInfo, windows: dict[int, list[tuple[time, time]]]) -> None:
        self.tz = tz
        self.windows = windows

    def _open_periods(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        first_day = t.astimezone(self.tz).date() - timedelta(days=1)
        for n in range(16):
            day = first_day + timedelta(days=n)
            for opens, closes in self.windows.get(day.weekday(), []):
                yield (
                    datetime.combine(day, opens, self.tz).astimezone(UTC),
                    datetime.combine(day, closes, self.tz).astimezone(UTC),
                )

    def is_open(self, t: datetime) -> bool:
        return any(opens <= t < closes for opens, closes in self._open_periods(t))

    def next_open(self, t: datetime) -> datetime:
        if self.is_open(t):
            return t
        return next(opens for opens, _ in self._open_periods(t) if opens > t)

    def next_close(self, t: datetime) -> datetime:
        return next(closes for _, closes in self._open_periods(t) if closes > t)


def _weekdays(*windows: tuple[time, time]) -> dict[int, list[tuple[time, time]]]:
    return {day: list(windows) for day in range(5)}


NINE_TO_HALF_FIVE = WeeklyWindowsTestCalendar(DETROIT, _weekdays((time(9), time(17, 30))))
# The office calendar of examples/agency.toml, without its holidays.
OFFICE = WeeklyWindowsTestCalendar(
    DETROIT,
    {
        0: [(time(9), time(12)), (time(13), time(17, 30))],
        1: [(time(9), time(17, 30))],
        2: [(time(9), time(17, 30))],
        3: [(time(9), time(17, 30))],
        4: [(time(9), time(16))],
    },
)


def local(tz: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=tz, fold=fold)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def rotation(
    start: str,
    shift: timedelta = WEEK,
    *,
    tz: ZoneInfo = DETROIT,
    members: tuple[str, ...] = MEMBERS,
    after_hours: WeeklyWindowsTestCalendar | BusinessCalendar | None = None,
    rotation_id: str = "after-hours",
) -> Rotation:
    return Rotation(
        id=rotation_id,
        members=members,
        start=datetime.fromisoformat(start),
        tz=tz,
        shift=shift,
        hours=after_hours,
        only_after_hours=after_hours is not None,
    )


def override(
    staff: str, start: datetime, end: datetime, id: int | None = None, rot: str = "after-hours"
) -> Override:
    return Override(id=id, rotation=rot, staff=staff, start=start, end=end)


# ------------------------------------------------------------------ handoffs on the wall clock


def test_weekly_handoff_stays_at_nine_local_across_the_november_fall_back() -> None:
    weekly = rotation("2026-10-26T09:00")  # Monday before the 2026-11-01 fall-back

    before = shift_at(weekly, local(DETROIT, 2026, 10, 30, 12))
    after = shift_at(weekly, local(DETROIT, 2026, 11, 3, 12))

    assert before == Shift(0, "jim", utc(2026, 10, 26, 13), utc(2026, 11, 2, 14))
    assert after == Shift(1, "ana", utc(2026, 11, 2, 14), utc(2026, 11, 9, 14))
    assert after.start.astimezone(DETROIT).time() == time(9)
    assert before.end - before.start == WEEK + timedelta(hours=1)


def test_weekly_handoff_stays_at_nine_local_across_the_march_spring_forward() -> None:
    weekly = rotation("2027-03-08T09:00")  # Monday before the 2027-03-14 spring-forward

    assert handoff_at(weekly, 0) == utc(2027, 3, 8, 14)
    assert handoff_at(weekly, 1) == utc(2027, 3, 15, 13)
    assert shift_at(weekly, utc(2027, 3, 15, 12, 59)).staff == "jim"
    assert shift_at(weekly, utc(2027, 3, 15, 13)).staff == "ana"
    assert handoff_at(weekly, 1) - handoff_at(weekly, 0) == WEEK - timedelta(hours=1)


def test_example_after_hours_rotation_hands_off_mondays_at_nine_through_the_winter() -> None:
    example = rotation("2026-11-02T09:00", after_hours=OFFICE)

    for index in range(0, 30):
        instant = handoff_at(example, index)
        assert (
            instant.astimezone(DETROIT).replace(tzinfo=None)
            == datetime(2026, 11, 2, 9) + index * WEEK
        )
    assert handoff_at(example, 19) == utc(2027, 3, 15, 13)  # EDT
    assert handoff_at(example, 18) == utc(2027, 3, 8, 14)  # EST


def test_twelve_hour_shifts_stay_at_nine_and_nine_across_fall_back() -> None:
    halves = rotation("2026-10-31T09:00", timedelta(hours=12))

    starts = [handoff_at(halves, k).astimezone(DETROIT) for k in range(5)]

    assert [s.hour for s in starts] == [9, 21, 9, 21, 9]
    assert handoff_at(halves, 2) == utc(2026, 11, 1, 14)
    shift = shift_at(halves, utc(2026, 11, 1, 6))
    assert shift is not None and shift.index == 1
    assert shift.end - shift.start == timedelta(hours=13)  # the night the clocks went back


def test_eight_hour_shifts_keep_their_wall_times_across_spring_forward() -> None:
    thirds = rotation("2027-03-13T09:00", timedelta(hours=8))

    hours = [handoff_at(thirds, k).astimezone(DETROIT).hour for k in range(7)]
    night = shift_at(thirds, local(DETROIT, 2027, 3, 14, 4))

    assert hours == [9, 17, 1, 9, 17, 1, 9]
    assert night is not None and (night.index, night.staff) == (2, "raj")
    assert night.end - night.start == timedelta(hours=7)


def test_shift_that_does_not_divide_a_day_walks_the_wall_clock() -> None:
    sevens = rotation("2026-10-31T09:00", timedelta(hours=7))

    walls = [handoff_at(sevens, k).astimezone(DETROIT).replace(tzinfo=None) for k in range(6)]

    assert walls == [datetime(2026, 10, 31, 9) + k * timedelta(hours=7) for k in range(6)]
    # 2026-11-01 06:00 EST comes eight real hours after 2026-10-31 23:00 EDT.
    assert handoff_at(sevens, 3) - handoff_at(sevens, 2) == timedelta(hours=8)
    assert shift_at(sevens, local(DETROIT, 2026, 11, 1, 14)).staff == "ana"  # index 4


def test_handoff_in_the_spring_forward_gap_happens_when_the_clocks_jump() -> None:
    weekly = rotation("2027-03-07T02:30")  # 2027-03-14 02:30 does not exist in Detroit

    gap = handoff_at(weekly, 1)

    assert gap == utc(2027, 3, 14, 7)
    assert gap.astimezone(DETROIT).replace(tzinfo=None) == datetime(2027, 3, 14, 3, 0)
    assert shift_at(weekly, gap - timedelta(microseconds=1)).index == 0
    assert shift_at(weekly, gap) == Shift(1, "ana", utc(2027, 3, 14, 7), utc(2027, 3, 21, 6, 30))


def test_handoff_in_the_repeated_fall_back_hour_happens_at_its_first_occurrence() -> None:
    weekly = rotation("2026-10-25T01:30")  # 2026-11-01 01:30 happens twice in Detroit

    repeated = handoff_at(weekly, 1)

    assert repeated == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST
    assert shift_at(weekly, utc(2026, 11, 1, 5, 29)).index == 0
    second_pass = local(DETROIT, 2026, 11, 1, 1, 15, fold=1)  # 01:15 EST, after the first 01:30
    assert shift_at(weekly, second_pass).index == 1
    assert shift_at(weekly, repeated).end == utc(2026, 11, 8, 6, 30)


def test_shifts_wholly_inside_the_gap_last_no_time_and_are_never_current() -> None:
    halves = rotation("2027-03-14T01:00", timedelta(minutes=30))  # 02:00 and 02:30 do not exist

    assert [handoff_at(halves, k) for k in (2, 3, 4)] == [utc(2027, 3, 14, 7)] * 3
    assert shift_at(halves, utc(2027, 3, 14, 6, 59)).index == 1
    assert shift_at(halves, utc(2027, 3, 14, 7)) == Shift(
        4, "ana", utc(2027, 3, 14, 7), utc(2027, 3, 14, 7, 30)
    )


def test_london_weekly_handoff_across_october_and_its_march_gap() -> None:
    weekly = rotation("2026-10-19T09:00", tz=LONDON)
    gap = rotation("2027-03-21T01:30", tz=LONDON)  # 2027-03-28 01:30 does not exist in London

    assert handoff_at(weekly, 0) == utc(2026, 10, 19, 8)  # BST
    assert handoff_at(weekly, 1) == utc(2026, 10, 26, 9)  # GMT, still 09:00 local
    assert handoff_at(gap, 1) == utc(2027, 3, 28, 1)  # 02:00 BST
    assert handoff_at(gap, 2) == utc(2027, 4, 4, 0, 30)


def test_sydney_handoffs_across_its_october_spring_and_april_fall_back() -> None:
    weekly = rotation("2026-09-28T09:00", tz=SYDNEY)
    gap = rotation("2026-09-27T02:30", tz=SYDNEY)  # 2026-10-04 02:30 does not exist in Sydney
    repeated = rotation("2027-03-28T02:30", tz=SYDNEY)  # 2027-04-04 02:30 happens twice

    assert handoff_at(weekly, 0) == utc(2026, 9, 27, 23)  # AEST +10
    assert handoff_at(weekly, 1) == utc(2026, 10, 4, 22)  # AEDT +11, still 09:00 local
    assert handoff_at(gap, 1) == utc(2026, 10, 3, 16)  # 03:00 AEDT
    assert handoff_at(repeated, 1) == utc(2027, 4, 3, 15, 30)  # first 02:30, AEDT


def test_member_order_wraps_around() -> None:
    daily = rotation("2026-11-02T09:00", timedelta(days=1))

    staff = [shift_at(daily, local(DETROIT, 2026, 11, 2 + k, 12)).staff for k in range(7)]

    assert staff == ["jim", "ana", "raj", "jim", "ana", "raj", "jim"]


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    weekly = rotation("2026-11-02T09:00")
    early = local(DETROIT, 2026, 11, 1, 12)

    assert shift_at(weekly, early) is None
    assert on_call(weekly, early) == OnCall("after-hours", None, utc(2026, 11, 2, 14), "jim")
    assert offset_on_call(weekly, early, 0) is None
    assert offset_on_call(weekly, early, 1) == "jim"
    assert shift_at(weekly, utc(2026, 11, 2, 14)).staff == "jim"


# ------------------------------------------------------------------ after-hours rotations


def test_after_hours_rotation_has_nobody_during_business_hours() -> None:
    example = rotation("2026-11-02T09:00", after_hours=NINE_TO_HALF_FIVE)

    answer = on_call(example, local(DETROIT, 2026, 11, 3, 11))

    assert answer == OnCall("after-hours", None, local(DETROIT, 2026, 11, 3, 17, 30), "jim")


def test_after_hours_rotation_is_on_call_in_the_evening_until_the_next_opening() -> None:
    example = rotation("2026-11-02T09:00", after_hours=NINE_TO_HALF_FIVE)

    answer = on_call(example, local(DETROIT, 2026, 11, 3, 20))

    assert answer.staff == "jim"
    assert answer.until == local(DETROIT, 2026, 11, 4, 9).astimezone(UTC)
    assert answer.next == "ana"  # jim's evenings go on until Monday; ana is the next person


def test_after_hours_rotation_covers_the_weekend_until_the_monday_handoff() -> None:
    example = rotation("2026-11-02T09:00", after_hours=NINE_TO_HALF_FIVE)

    saturday = on_call(example, local(DETROIT, 2026, 11, 7, 15))
    monday_evening = on_call(example, local(DETROIT, 2026, 11, 9, 18))

    assert saturday == OnCall("after-hours", "jim", utc(2026, 11, 9, 14), "ana")
    assert monday_evening.staff == "ana"


def test_after_hours_rotation_is_on_call_over_a_lunch_break_the_calendar_closes() -> None:
    example = rotation("2026-11-02T09:00", after_hours=OFFICE)

    lunch = on_call(example, local(DETROIT, 2026, 11, 9, 12, 15))

    assert lunch.staff == "ana"
    assert lunch.until == local(DETROIT, 2026, 11, 9, 13).astimezone(UTC)


def test_after_hours_until_is_the_shift_end_when_the_handoff_comes_first() -> None:
    # Handoffs at 21:00: the evening belongs to two people, the first until 21:00.
    daily = rotation("2026-11-02T21:00", timedelta(days=1), after_hours=NINE_TO_HALF_FIVE)

    answer = on_call(daily, local(DETROIT, 2026, 11, 3, 18))

    assert answer == OnCall("after-hours", "jim", local(DETROIT, 2026, 11, 3, 21), "ana")


def test_handoffs_inside_business_hours_skip_nobody_across_a_month() -> None:
    # A daily noon handoff always falls while the office is open (or on a weekend).
    daily = rotation("2026-11-02T12:00", timedelta(days=1), after_hours=NINE_TO_HALF_FIVE)
    a, b = handoff_at(daily, 0), handoff_at(daily, 30)

    periods = shifts_between(daily, a, b)
    turns = [(p.shift_index, p.staff) for p in periods]

    assert turns == [(k, MEMBERS[k % 3]) for k in range(30)]
    assert Counter(staff for _, staff in turns) == {"jim": 10, "ana": 10, "raj": 10}
    assert all(not NINE_TO_HALF_FIVE.is_open(p.start) for p in periods)
    friday = periods[4]  # Friday noon to Saturday noon: on call from 17:30
    assert (friday.start, friday.end) == (utc(2026, 11, 6, 22, 30), utc(2026, 11, 7, 17))


def test_weekly_after_hours_turns_follow_member_order_over_two_months() -> None:
    example = rotation("2026-11-02T09:00", after_hours=OFFICE)

    weeks = [on_call(example, local(DETROIT, 2026, 11, 7, 12) + k * WEEK).staff for k in range(9)]

    assert weeks == ["jim", "ana", "raj", "jim", "ana", "raj", "jim", "ana", "raj"]


# ------------------------------------------------------------------ overrides


def test_override_covering_part_of_a_shift_wins_until_it_ends() -> None:
    weekly = rotation("2026-11-02T09:00")
    cover = override("raj", local(DETROIT, 2026, 11, 3, 18), local(DETROIT, 2026, 11, 3, 22), 1)

    before = on_call(weekly, local(DETROIT, 2026, 11, 3, 17), [cover])
    during = on_call(weekly, local(DETROIT, 2026, 11, 3, 19), [cover])
    after = on_call(weekly, local(DETROIT, 2026, 11, 3, 22), [cover])

    assert before == OnCall("after-hours", "jim", cover.start, "raj")
    assert during == OnCall("after-hours", "raj", cover.end, "jim")
    assert after == OnCall("after-hours", "jim", utc(2026, 11, 9, 14), "ana")


def test_overlapping_overrides_the_latest_created_wins() -> None:
    weekly = rotation("2026-11-02T09:00")
    day = (2026, 11, 4)
    older = override("ana", local(DETROIT, *day, 10), local(DETROIT, *day, 14), id=7)
    newer = override("raj", local(DETROIT, *day, 12), local(DETROIT, *day, 13), id=8)

    def at(hour: int, minute: int = 0) -> OnCall:
        return on_call(weekly, local(DETROIT, *day, hour, minute), [newer, older])

    assert at(11) == OnCall("after-hours", "ana", newer.start, "raj")
    assert at(12, 30) == OnCall("after-hours", "raj", newer.end, "ana")
    assert at(13, 30) == OnCall("after-hours", "ana", older.end, "jim")


def test_an_older_override_inside_a_newer_one_changes_nothing() -> None:
    weekly = rotation("2026-11-02T09:00")
    day = (2026, 11, 4)
    newer = override("ana", local(DETROIT, *day, 10), local(DETROIT, *day, 14), id=9)
    older = override("raj", local(DETROIT, *day, 12), local(DETROIT, *day, 13), id=3)

    answer = on_call(weekly, local(DETROIT, *day, 12, 30), [older, newer])

    assert answer == OnCall("after-hours", "ana", newer.end, "jim")


def test_an_unsaved_override_outranks_stored_ones() -> None:
    weekly = rotation("2026-11-02T09:00")
    day = (2026, 11, 4)
    stored = override("ana", local(DETROIT, *day, 10), local(DETROIT, *day, 14), id=50)
    draft = override("raj", local(DETROIT, *day, 11), local(DETROIT, *day, 12), id=None)

    assert on_call(weekly, local(DETROIT, *day, 11, 30), [draft, stored]).staff == "raj"


def test_swap_is_two_overrides_covering_each_others_shift() -> None:
    weekly = rotation("2026-11-02T09:00")
    jims, anas = shift_at(weekly, handoff_at(weekly, 0)), shift_at(weekly, handoff_at(weekly, 1))
    swap = [
        override("ana", jims.start, jims.end, id=1),
        override("jim", anas.start, anas.end, id=2),
    ]
    first_week = local(DETROIT, 2026, 11, 4, 12)
    second_week = local(DETROIT, 2026, 11, 11, 12)

    assert on_call(weekly, first_week, swap) == OnCall("after-hours", "ana", jims.end, "jim")
    assert on_call(weekly, second_week, swap) == OnCall("after-hours", "jim", anas.end, "raj")
    assert offset_on_call(weekly, first_week, 1, swap) == "jim"
    assert offset_on_call(weekly, second_week, 1, swap) == "raj"


def test_override_on_an_after_hours_rotation_applies_during_business_hours() -> None:
    example = rotation("2026-11-02T09:00", after_hours=NINE_TO_HALF_FIVE)
    cover = override("raj", local(DETROIT, 2026, 11, 3, 15), local(DETROIT, 2026, 11, 3, 19), 4)

    afternoon = on_call(example, local(DETROIT, 2026, 11, 3, 16), [cover])
    evening = on_call(example, local(DETROIT, 2026, 11, 3, 19), [cover])

    assert afternoon == OnCall("after-hours", "raj", cover.end, "jim")
    assert evening.staff == "jim"


def test_overrides_of_another_rotation_are_ignored() -> None:
    weekly = rotation("2026-11-02T09:00")
    elsewhere = override(
        "kim", local(DETROIT, 2026, 11, 3), local(DETROIT, 2026, 11, 5), 1, rot="leadership"
    )

    assert on_call(weekly, local(DETROIT, 2026, 11, 4), [elsewhere]).staff == "jim"


# ------------------------------------------------------------------ next and +N


def test_next_and_offsets_follow_member_order() -> None:
    weekly = rotation("2026-11-02T09:00")
    t = local(DETROIT, 2026, 11, 17, 12)  # third week: raj

    assert on_call(weekly, t).next == "jim"
    assert [offset_on_call(weekly, t, n) for n in range(5)] == ["raj", "jim", "ana", "raj", "jim"]


def test_offset_uses_the_override_at_the_start_of_that_shift() -> None:
    weekly = rotation("2026-11-02T09:00")
    second = shift_at(weekly, handoff_at(weekly, 1))
    cover = override("kim", second.start, second.start + timedelta(days=1), id=1)
    t = local(DETROIT, 2026, 11, 4, 12)

    assert offset_on_call(weekly, t, 1, [cover]) == "kim"
    assert offset_on_call(weekly, t, 2, [cover]) == "raj"
    assert on_call(weekly, t, [cover]).next == "kim"


def test_offset_refuses_a_negative_step() -> None:
    weekly = rotation("2026-11-02T09:00")

    with pytest.raises(ValueError):
        offset_on_call(weekly, local(DETROIT, 2026, 11, 4, 12), -1)


def test_rotation_of_one_member_has_that_member_next_and_no_end() -> None:
    leadership = rotation("2026-11-02T00:00", members=("kim",), rotation_id="leadership")
    t = local(DETROIT, 2026, 11, 10, 3)

    assert on_call(leadership, t) == OnCall("leadership", "kim", None, "kim")
    assert offset_on_call(leadership, t, 1) == "kim"


def test_rotation_of_one_member_after_hours_is_on_call_until_the_opening() -> None:
    solo = rotation("2026-11-02T00:00", members=("kim",), after_hours=NINE_TO_HALF_FIVE)

    answer = on_call(solo, local(DETROIT, 2026, 11, 10, 3))

    assert answer == OnCall("after-hours", "kim", local(DETROIT, 2026, 11, 10, 9), "kim")


# ------------------------------------------------------------------ periods for feeds


def test_shifts_between_cuts_overrides_into_the_schedule() -> None:
    weekly = rotation("2026-11-02T09:00")
    cover = override("raj", local(DETROIT, 2026, 11, 8, 20), local(DETROIT, 2026, 11, 9, 12), 6)
    a, b = local(DETROIT, 2026, 11, 5), local(DETROIT, 2026, 11, 12)

    periods = shifts_between(weekly, a, b, [cover])

    assert periods == [
        OnCallPeriod("jim", a.astimezone(UTC), cover.start, False, None, 0),
        OnCallPeriod("raj", cover.start, cover.end, True, 6, None),
        OnCallPeriod("ana", cover.end, b.astimezone(UTC), False, None, 1),
    ]


def test_shifts_between_leaves_out_business_hours_of_after_hours_rotations() -> None:
    example = rotation("2026-11-02T09:00", after_hours=NINE_TO_HALF_FIVE)
    cover = override("raj", local(DETROIT, 2026, 11, 4, 20), local(DETROIT, 2026, 11, 4, 23), 2)
    a, b = local(DETROIT, 2026, 11, 3, 8), local(DETROIT, 2026, 11, 5, 12)

    periods = shifts_between(example, a, b, [cover])

    assert [(p.staff, p.start.astimezone(DETROIT), p.end.astimezone(DETROIT)) for p in periods] == [
        ("jim", local(DETROIT, 2026, 11, 3, 8), local(DETROIT, 2026, 11, 3, 9)),
        ("jim", local(DETROIT, 2026, 11, 3, 17, 30), local(DETROIT, 2026, 11, 4, 9)),
        ("jim", local(DETROIT, 2026, 11, 4, 17, 30), local(DETROIT, 2026, 11, 4, 20)),
        ("raj", local(DETROIT, 2026, 11, 4, 20), local(DETROIT, 2026, 11, 4, 23)),
        ("jim", local(DETROIT, 2026, 11, 4, 23), local(DETROIT, 2026, 11, 5, 9)),
    ]
    assert [p.from_override for p in periods] == [False, False, False, True, False]


def test_shifts_between_an_empty_range_is_empty() -> None:
    weekly = rotation("2026-11-02T09:00")
    t = local(DETROIT, 2026, 11, 5)

    assert shifts_between(weekly, t, t) == []


# ------------------------------------------------------------------ every calendar has an answer
# Real calendars (routing.business_hours) of every shape a configuration can give.

ST_JOHNS = ZoneInfo("America/St_Johns")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")
ALL_DAY = {d: [(0, 1440)] for d in range(7)}
NEVER_OPEN_SYDNEY = BusinessCalendar(SYDNEY, {})
ALWAYS_OPEN_KOLKATA = BusinessCalendar("Asia/Kolkata", ALL_DAY)


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.sampled_from([timedelta(hours=8), timedelta(days=1), WEEK]),
)
def test_after_hours_rotation_on_a_never_open_calendar_is_an_ordinary_rotation(
    t: datetime, shift: timedelta
) -> None:
    # Sydney's clocks change in April and October; handoffs at 02:30 hit both edges.
    plain = rotation("2026-03-01T02:30", shift, tz=SYDNEY)
    never = rotation("2026-03-01T02:30", shift, tz=SYDNEY, after_hours=NEVER_OPEN_SYDNEY)

    assert on_call(never, t) == on_call(plain, t)
    assert on_call(never, t).staff is not None or t < handoff_at(plain, 0)


def test_one_person_after_hours_on_a_never_open_calendar_is_on_call_for_ever() -> None:
    solo = rotation("2026-11-02T09:00", members=("kim",), tz=SYDNEY, after_hours=NEVER_OPEN_SYDNEY)
    t = local(SYDNEY, 2026, 12, 7, 12)

    assert on_call(solo, t) == OnCall("after-hours", "kim", None, "kim")
    assert offset_on_call(solo, t, 0) == "kim"
    week = shifts_between(solo, t, t + WEEK)  # one period per shift, end to end
    assert {p.staff for p in week} == {"kim"}
    assert sum((p.end - p.start for p in week), timedelta(0)) == WEEK


def test_after_hours_rotation_on_an_always_open_calendar_is_never_on_call() -> None:
    shut = rotation("2026-11-02T09:00", tz=KOLKATA, after_hours=ALWAYS_OPEN_KOLKATA)
    t = local(KOLKATA, 2026, 12, 7, 3)

    assert on_call(shut, t) == OnCall("after-hours", None, None, None)
    assert shifts_between(shut, t, t + 4 * WEEK) == []
    assert offset_on_call(shut, t, 1) == "raj"  # +1 is still the next shift's member


def test_override_on_an_always_open_after_hours_rotation_is_all_there_is() -> None:
    shut = rotation("2026-11-02T09:00", tz=KOLKATA, after_hours=ALWAYS_OPEN_KOLKATA)
    start, end = local(KOLKATA, 2026, 12, 24, 18), local(KOLKATA, 2026, 12, 26, 9)
    cover = override("raj", start, end, id=4)

    assert on_call(shut, start - WEEK, [cover]) == OnCall("after-hours", None, start, "raj")
    assert on_call(shut, start, [cover]) == OnCall("after-hours", "raj", end, None)
    assert on_call(shut, end, [cover]) == OnCall("after-hours", None, None, None)


ALWAYS_OPEN_BUT_CHRISTMAS = BusinessCalendar(
    "Australia/Sydney", ALL_DAY, {date(2026, 12, 25), date(2026, 12, 26)}.__contains__
)


def test_after_hours_rotation_of_a_calendar_closed_only_on_holidays_waits_for_them() -> None:
    holidays = rotation("2026-11-02T09:00", tz=SYDNEY, after_hours=ALWAYS_OPEN_BUT_CHRISTMAS)
    december = local(SYDNEY, 2026, 12, 1)
    christmas, after = local(SYDNEY, 2026, 12, 25), local(SYDNEY, 2026, 12, 27)

    # Christmas falls in the eighth week: Ana's.
    assert on_call(holidays, december) == OnCall("after-hours", None, christmas, "ana")
    # No closed day after these two: nobody is on call after them, ever.
    assert on_call(holidays, christmas) == OnCall("after-hours", "ana", after, None)
    assert on_call(holidays, after) == OnCall("after-hours", None, None, None)


@pytest.mark.parametrize("zone", [KIRITIMATI, PAGO_PAGO], ids=str)
def test_one_person_after_hours_with_one_open_hour_a_week(zone: ZoneInfo) -> None:
    hour = BusinessCalendar(zone, {2: [(600, 660)]})  # Wednesdays 10-11 local
    solo = rotation("2026-11-02T09:00", members=("kim",), tz=zone, after_hours=hour)
    inside, closes = local(zone, 2026, 12, 9, 10, 30), local(zone, 2026, 12, 9, 11)

    assert on_call(solo, inside) == OnCall("after-hours", None, closes, "kim")
    assert on_call(solo, closes) == OnCall(
        "after-hours", "kim", local(zone, 2026, 12, 16, 10), "kim"
    )


def test_one_person_with_one_minute_shifts_answers_at_once() -> None:
    solo = rotation("2026-11-02T09:00", timedelta(minutes=1), members=("kim",), tz=PAGO_PAGO)
    pair = rotation("2026-11-02T09:00", timedelta(minutes=1), members=("kim", "raj"), tz=PAGO_PAGO)
    t = local(PAGO_PAGO, 2026, 12, 7, 12, 0, 30)

    assert on_call(solo, t) == OnCall("after-hours", "kim", None, "kim")
    assert on_call(pair, t) == OnCall(
        "after-hours", "kim", local(PAGO_PAGO, 2026, 12, 7, 12, 1), "raj"
    )


def test_never_open_rotation_hands_off_when_st_johns_clocks_jump() -> None:
    never = BusinessCalendar(ST_JOHNS, {})
    daily = rotation("2026-03-01T02:30", timedelta(days=1), tz=ST_JOHNS, after_hours=never)
    # 2026-03-08 02:00 NST jumps to 03:00 NDT: 02:30 does not exist, the handoff is the jump.
    night = local(ST_JOHNS, 2026, 3, 8, 1)

    answer = on_call(daily, night)

    assert answer.until == utc(2026, 3, 8, 5, 30)
    assert (answer.staff, answer.next) == ("jim", "ana")


# ------------------------------------------------------------------ refusals


def test_naive_instants_are_refused() -> None:
    weekly = rotation("2026-11-02T09:00")

    with pytest.raises(ValueError):
        on_call(weekly, datetime(2026, 11, 5, 12))


def test_rotation_refuses_an_aware_start_no_members_or_missing_hours() -> None:
    with pytest.raises(ValueError):
        Rotation("r", MEMBERS, local(DETROIT, 2026, 11, 2), DETROIT, WEEK)
    with pytest.raises(ValueError):
        Rotation("r", (), datetime(2026, 11, 2), DETROIT, WEEK)
    with pytest.raises(ValueError):
        Rotation("r", MEMBERS, datetime(2026, 11, 2), DETROIT, timedelta(0))
    with pytest.raises(ValueError):
        Rotation("r", MEMBERS, datetime(2026, 11, 2), DETROIT, WEEK, only_after_hours=True)


def test_override_must_end_after_it_starts() -> None:
    t = local(DETROIT, 2026, 11, 5)

    with pytest.raises(ValueError):
        override("raj", t, t)


def test_test_calendar_is_honest_about_its_windows() -> None:
    monday = date(2026, 11, 9)
    lunch = datetime.combine(monday, time(12, 30), DETROIT)

    assert not OFFICE.is_open(lunch)
    assert OFFICE.next_open(lunch) == datetime.combine(monday, time(13), DETROIT)
    assert OFFICE.next_close(lunch) == datetime.combine(monday, time(17, 30), DETROIT)
    friday_night = datetime.combine(date(2026, 11, 13), time(20), DETROIT)
    assert OFFICE.next_open(friday_night) == datetime.combine(monday + WEEK, time(9), DETROIT)
