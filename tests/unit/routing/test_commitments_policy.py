"""Commitment due times for the example tiers (examples/agency.toml) on the office calendar."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.business_hours import BusinessCalendar
from routing.commitments_policy import CommitmentPolicy, DueTimes, due_epoch, due_for, should_page

DETROIT = ZoneInfo("America/Detroit")
H = timedelta(hours=1)
M = timedelta(minutes=1)

OFFICE_WEEK = {
    0: [(540, 720), (780, 1050)],
    1: [(540, 1050)],
    2: [(540, 1050)],
    3: [(540, 1050)],
    4: [(540, 960)],
}
THANKSGIVING = date(2026, 11, 26)
OFFICE = BusinessCalendar(DETROIT, OFFICE_WEEK, {THANKSGIVING, date(2026, 11, 27)}.__contains__)
NEVER_OPEN = BusinessCalendar(DETROIT, {})


def standard(calendar: BusinessCalendar = OFFICE) -> CommitmentPolicy:
    return CommitmentPolicy(
        business=4 * H, after_hours=None, at_risk=0.75, page_oncall="never", calendar=calendar
    )


def priority(calendar: BusinessCalendar = OFFICE) -> CommitmentPolicy:
    return CommitmentPolicy(
        business=30 * M, after_hours=H, at_risk=0.75, page_oncall="after_hours", calendar=calendar
    )


def det(*args: int) -> datetime:
    return datetime(*args, tzinfo=DETROIT)


def test_inside_hours_due_is_business_time_later() -> None:
    times = due_for(priority(), det(2026, 3, 3, 10, 0))
    assert times == DueTimes(
        after_hours=False, due_at=det(2026, 3, 3, 10, 30), at_risk_at=det(2026, 3, 3, 10, 22, 30)
    )


def test_inside_hours_due_skips_the_lunch_break() -> None:
    times = due_for(standard(), det(2026, 3, 2, 11, 0))  # Monday: 1h before lunch, 3h after
    assert times.due_at == det(2026, 3, 2, 16, 0)
    assert times.at_risk_at == det(2026, 3, 2, 15, 0)
    assert not times.after_hours


def test_priority_near_closing_rolls_to_next_morning() -> None:
    times = due_for(priority(), det(2026, 3, 3, 17, 15))
    assert times.due_at == det(2026, 3, 4, 9, 15)
    assert times.at_risk_at == det(2026, 3, 4, 9, 7, 30)


def test_after_hours_wall_clock_duration() -> None:
    times = due_for(priority(), det(2026, 3, 3, 20, 0))
    assert times == DueTimes(
        after_hours=True, due_at=det(2026, 3, 3, 21, 0), at_risk_at=det(2026, 3, 3, 20, 45)
    )


def test_after_hours_wall_clock_is_not_stretched_by_dst() -> None:
    # Saturday night before spring-forward: one real hour, though the wall clock jumps.
    times = due_for(priority(), det(2026, 3, 8, 1, 30))
    assert times.due_at - det(2026, 3, 8, 1, 30) == H
    assert times.due_at == det(2026, 3, 8, 3, 30)


def test_next_business_day_counts_from_the_opening() -> None:
    times = due_for(standard(), det(2026, 2, 7, 10, 0))  # Saturday
    assert times.after_hours
    assert times.due_at == det(2026, 2, 9, 14, 0)  # Monday: 09-12 and 13-14
    assert times.at_risk_at == det(2026, 2, 9, 12, 0)  # 3h of business time: lunch starts


def test_message_at_window_end_is_after_hours() -> None:
    times = due_for(priority(), det(2026, 3, 3, 17, 30))
    assert times.after_hours
    assert times.due_at == det(2026, 3, 3, 18, 30)


def test_message_at_window_start_is_inside_hours() -> None:
    times = due_for(priority(), det(2026, 3, 3, 9, 0))
    assert not times.after_hours
    assert times.due_at == det(2026, 3, 3, 9, 30)


def test_holiday_uses_the_after_hours_rule() -> None:
    thanksgiving_morning = det(2026, 11, 26, 10, 0)
    assert due_for(priority(), thanksgiving_morning).due_at == det(2026, 11, 26, 11, 0)
    # Thursday and Friday closed: the standard tier starts counting on Monday.
    assert due_for(standard(), thanksgiving_morning).due_at == det(2026, 11, 30, 14, 0)


def test_calendar_without_windows_makes_every_message_after_hours() -> None:
    t = det(2026, 3, 3, 10, 0)
    times = due_for(priority(NEVER_OPEN), t)
    assert times == DueTimes(after_hours=True, due_at=t + H, at_risk_at=t + 45 * M)


def test_no_windows_next_business_day_falls_back_to_wall_clock_business() -> None:
    t = det(2026, 3, 3, 10, 0)
    times = due_for(standard(NEVER_OPEN), t)
    assert times == DueTimes(after_hours=True, due_at=t + 4 * H, at_risk_at=t + 3 * H)
    assert due_epoch(standard(NEVER_OPEN), t.timestamp()) == (t + 4 * H).timestamp()


def test_windows_only_on_closed_days_fall_back_like_no_windows() -> None:
    every_day_closed = BusinessCalendar(DETROIT, OFFICE_WEEK, lambda _day: True)
    t = det(2026, 3, 3, 10, 0)
    times = due_for(standard(every_day_closed), t)
    assert times == DueTimes(after_hours=True, due_at=t + 4 * H, at_risk_at=t + 3 * H)
    assert due_epoch(standard(every_day_closed), t.timestamp()) == (t + 4 * H).timestamp()


# ---------------------------------------------------------------- every calendar gives a due time

SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
ST_JOHNS = ZoneInfo("America/St_Johns")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")
ALL_DAY = {d: [(0, 1440)] for d in range(7)}


def test_never_open_in_sydney_every_message_gets_the_after_hours_promise() -> None:
    never = BusinessCalendar(SYDNEY, {})
    t = datetime(2026, 10, 4, 2, 30, tzinfo=SYDNEY).astimezone(UTC)  # in the spring gap's day
    assert due_for(priority(never), t) == DueTimes(True, t + H, t + 45 * M)
    assert due_for(standard(never), t) == DueTimes(True, t + 4 * H, t + 3 * H)
    assert due_epoch(priority(never), t.timestamp()) == (t + H).timestamp()


@pytest.mark.parametrize("zone", [KOLKATA, ST_JOHNS], ids=str)
def test_always_open_is_never_after_hours_and_counts_elapsed_time(zone: ZoneInfo) -> None:
    always = BusinessCalendar(zone, ALL_DAY)
    # St John's springs forward at 02:00 on 2026-03-08: four hours later is 03:30 on the wall.
    t = datetime(2026, 3, 7, 23, 30, tzinfo=zone).astimezone(UTC)
    assert due_for(standard(always), t) == DueTimes(False, t + 4 * H, t + 3 * H)
    assert due_for(priority(always), t) == DueTimes(False, t + 30 * M, t + timedelta(minutes=22.5))
    assert due_epoch(standard(always), t.timestamp()) == (t + 4 * H).timestamp()


@pytest.mark.parametrize("zone", [KIRITIMATI, PAGO_PAGO], ids=str)
def test_one_hour_a_week_next_business_day_spans_weeks(zone: ZoneInfo) -> None:
    hour = BusinessCalendar(zone, {2: [(600, 660)]})  # Wednesdays 10-11 local
    t = datetime(2026, 12, 9, 11, 0, tzinfo=zone)  # just closed
    times = due_for(standard(hour), t)  # 4h of business time: four Wednesdays
    assert times == DueTimes(
        True,
        datetime(2027, 1, 6, 11, 0, tzinfo=zone),
        datetime(2026, 12, 30, 11, 0, tzinfo=zone),
    )
    assert due_epoch(standard(hour), t.timestamp()) == times.due_at.timestamp()
    # With a wall-clock after-hours promise the sparse calendar does not matter at night.
    assert due_for(priority(hour), t).due_at == t + H


def test_closed_only_on_holidays_next_business_day_waits_for_the_holiday_to_end() -> None:
    christmas = {date(2026, 12, 25), date(2026, 12, 26)}
    cal = BusinessCalendar(SYDNEY, ALL_DAY, christmas.__contains__)
    t = datetime(2026, 12, 25, 9, 0, tzinfo=SYDNEY)
    opens = datetime(2026, 12, 27, tzinfo=SYDNEY)
    assert due_for(standard(cal), t) == DueTimes(True, opens + 4 * H, opens + 3 * H)
    assert due_for(priority(cal), t) == DueTimes(True, t + H, t + 45 * M)
    assert due_for(standard(cal), datetime(2026, 12, 24, 22, tzinfo=SYDNEY)).due_at == (
        opens + 2 * H
    )


def test_business_time_that_never_elapses_falls_back_to_the_wall_clock_promise() -> None:
    # Open this Monday morning only: every later window falls on a closed day.
    last_day = BusinessCalendar(DETROIT, OFFICE_WEEK, lambda day: day > date(2026, 3, 2))
    t = det(2026, 3, 2, 17, 0)  # open, with half an hour left
    assert due_for(priority(last_day), t) == DueTimes(
        False, t + 30 * M, t + timedelta(minutes=22.5)
    )
    assert due_for(standard(last_day), t) == DueTimes(False, t + 4 * H, t + 3 * H)
    slow = dataclasses.replace(priority(last_day), business=2 * H)
    assert due_for(slow, t) == DueTimes(False, t + H, t + 45 * M)  # the after_hours promise
    assert due_epoch(slow, t.timestamp()) == (t + H).timestamp()
    assert due_epoch(standard(last_day), t.timestamp()) == (t + 4 * H).timestamp()


def test_at_risk_of_one_is_the_due_time() -> None:
    policy = dataclasses.replace(priority(), at_risk=1.0)
    for t in (det(2026, 3, 3, 10, 0), det(2026, 3, 3, 22, 0)):
        times = due_for(policy, t)
        assert times.at_risk_at == times.due_at


def test_due_times_are_utc() -> None:
    times = due_for(standard(), det(2026, 3, 3, 10, 0))
    assert times.due_at.tzinfo is UTC
    assert times.at_risk_at.tzinfo is UTC
    assert due_for(priority(), det(2026, 3, 3, 22, 0)).due_at.tzinfo is UTC


def test_naive_message_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        due_for(priority(), datetime(2026, 3, 3, 10, 0))


@pytest.mark.parametrize(
    ("page_oncall", "inside", "outside"),
    [("never", False, False), ("after_hours", False, True), ("always", True, True)],
)
def test_should_page(page_oncall: str, inside: bool, outside: bool) -> None:
    policy = dataclasses.replace(priority(), page_oncall=page_oncall)
    assert should_page(policy, after_hours=False) is inside
    assert should_page(policy, after_hours=True) is outside


@pytest.mark.parametrize(
    "changes",
    [
        {"at_risk": 0.0},
        {"at_risk": 1.5},
        {"page_oncall": "sometimes"},
        {"business": timedelta(0)},
        {"after_hours": timedelta(0)},
    ],
    ids=["at-risk-zero", "at-risk-over-one", "bad-page-oncall", "no-business", "no-after-hours"],
)
def test_invalid_policies_are_rejected(changes: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(priority(), **changes)


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        priority().business = H  # type: ignore[misc]


@pytest.mark.parametrize("make", [standard, priority], ids=["standard", "priority"])
@pytest.mark.parametrize(
    "t",
    [
        det(2026, 3, 2, 11, 0),
        det(2026, 3, 3, 17, 15),
        det(2026, 3, 7, 12, 0),
        det(2026, 11, 26, 10, 0),
        det(2026, 12, 31, 23, 59),
    ],
    ids=["monday-morning", "near-close", "saturday", "thanksgiving", "year-end"],
)
def test_due_epoch_matches_due_for(make, t: datetime) -> None:
    policy = make()
    assert due_epoch(policy, t.timestamp()) == due_for(policy, t).due_at.timestamp()


@settings(max_examples=80, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["standard", "priority"]),
)
def test_due_epoch_agrees_with_due_for_everywhere(t: datetime, tier: str) -> None:
    policy = standard() if tier == "standard" else priority()
    times = due_for(policy, t)
    assert due_epoch(policy, t.timestamp()) == pytest.approx(times.due_at.timestamp(), abs=1e-5)
    assert t < times.at_risk_at <= times.due_at
    assert times.after_hours == (not OFFICE.is_open(t))


CALENDAR_SHAPES = {
    "never": lambda zone: BusinessCalendar(zone, {}),
    "always": lambda zone: BusinessCalendar(zone, ALL_DAY),
    "one-hour": lambda zone: BusinessCalendar(zone, {6: [(90, 150)]}),  # Sundays 01:30-02:30
    "holidays": lambda zone: BusinessCalendar(zone, ALL_DAY, lambda d: d.toordinal() % 9 == 0),
    "office": lambda zone: BusinessCalendar(zone, OFFICE_WEEK),
}


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(sorted(CALENDAR_SHAPES)),
    st.sampled_from(["Australia/Sydney", "America/St_Johns", "Pacific/Kiritimati", "Asia/Kolkata"]),
    st.sampled_from(["standard", "priority"]),
    st.one_of(
        st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
        # Around the 2026 clock changes of Sydney and St John's.
        st.sampled_from(
            [datetime(2026, m, d, tzinfo=UTC) for m, d in ((3, 8), (4, 5), (10, 4), (11, 1))]
        ).flatmap(lambda day: st.integers(-86400, 86400).map(lambda s: day + timedelta(seconds=s))),
    ),
)
def test_every_calendar_shape_gives_a_finite_due_time(
    shape: str, zone: str, tier: str, t: datetime
) -> None:
    calendar = CALENDAR_SHAPES[shape](ZoneInfo(zone))
    policy = standard(calendar) if tier == "standard" else priority(calendar)
    times = due_for(policy, t)
    assert t < times.at_risk_at <= times.due_at <= t + timedelta(days=400)
    assert times.after_hours == (not calendar.is_open(t))
    assert due_epoch(policy, t.timestamp()) == pytest.approx(times.due_at.timestamp(), abs=1e-5)
