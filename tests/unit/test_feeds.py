"""Calendar feeds without a database: tokens, whole periods, and the iCalendar they render.

Overrides come from a plain list here; the HTTP feed over a real database is in
tests/e2e/test_oncall_api.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from bot.config import load_config
from bot.config.directory import build_directory
from bot.usecases.feeds import (
    FeedEvent,
    feed_path,
    feed_token,
    feed_window,
    render_calendar,
    rotation_events,
    staff_events,
    token_matches,
)
from bot.usecases.oncall import whole_periods
from routing.errors import DomainError
from routing.rotations import OnCallPeriod, Override

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency.toml"
CONFIG = load_config(EXAMPLE)
DIRECTORY = build_directory(CONFIG)
ROTATIONS = DIRECTORY.rotations
OFFICE = DIRECTORY.calendars["office"]
NAMES = DIRECTORY.staff_names
# Monday 7 December 2026, 15:00 in Detroit: the office is open, Raj's after-hours week began.
NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
H = timedelta(hours=1)


def source(overrides: Sequence[Override] = ()):  # type: ignore[no-untyped-def]
    def periods_of(rotation: str, a: datetime, b: datetime) -> list[OnCallPeriod]:
        def between(x: datetime, y: datetime) -> list[Override]:
            return [o for o in overrides if o.rotation == rotation and o.start < y and o.end > x]

        return whole_periods(ROTATIONS[rotation], a, b, between)

    return periods_of


def parse(
    events: list[FeedEvent], kind: str = "rotation", ident: str = "after-hours", now: datetime = NOW
) -> Calendar:
    body = render_calendar(NAMES, kind, ident, "Lakeshore on call", events, now)  # type: ignore[arg-type]
    return Calendar.from_ical(body)


def vevents(cal: Calendar) -> list:  # type: ignore[type-arg]
    return [c for c in cal.walk("VEVENT")]


# ---------------------------------------------------------------------------- tokens


def test_a_token_is_bound_to_the_secret_the_kind_and_the_id() -> None:
    token = feed_token("s3cret", "staff", "ana")
    assert token == feed_token("s3cret", "staff", "ana")
    assert len(token) == 64 and int(token, 16) >= 0
    assert token != feed_token("other", "staff", "ana")
    assert token != feed_token("s3cret", "staff", "raj")
    assert token != feed_token("s3cret", "rotation", "ana")


def test_token_matches_only_the_exact_token() -> None:
    token = feed_token("s3cret", "rotation", "after-hours")
    assert token_matches("s3cret", "rotation", "after-hours", token)
    flipped = token[:-1] + ("1" if token[-1] == "0" else "0")
    assert not token_matches("s3cret", "rotation", "after-hours", flipped)
    assert not token_matches("s3cret", "rotation", "after-hours", token.upper())
    assert not token_matches("s3cret", "rotation", "after-hours", None)
    assert not token_matches("s3cret", "rotation", "after-hours", "")
    assert not token_matches("s3cret", "rotation", "after-hours", "é" * 64)  # not ASCII: no crash


def test_feed_paths_are_the_contract_routes_with_their_token() -> None:
    staff = feed_path("k", "staff", "ana")
    assert staff == f"/calendars/staff/ana.ics?token={feed_token('k', 'staff', 'ana')}"
    rotation = feed_path("k", "rotation", "after-hours")
    assert rotation.startswith("/calendars/rotations/after-hours.ics?token=")


# ---------------------------------------------------------------------------- periods


def test_after_hours_events_cover_closed_time_only_and_all_of_it() -> None:
    events = rotation_events(source(), "after-hours", NOW)
    assert events, "eight weeks of after-hours time cannot be empty"
    for event in events:
        assert OFFICE.between(event.period.start, event.period.end) == timedelta(0)
    # Over a whole week of Raj's turn, on-call time is exactly the time the office is closed.
    week_start = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # Monday 09:00 in Detroit
    week_end = week_start + timedelta(weeks=1)
    covered = sum(
        (
            min(e.period.end, week_end) - max(e.period.start, week_start)
            for e in events
            if e.period.end > week_start and e.period.start < week_end
        ),
        timedelta(0),
    )
    assert covered == timedelta(weeks=1) - OFFICE.between(week_start, week_end)
    assert {e.period.staff for e in events if week_start <= e.period.start < week_end} == {"raj"}


def test_periods_are_whole_even_where_the_window_cuts_them() -> None:
    a, b = feed_window(NOW)
    events = rotation_events(source(), "leadership", NOW)
    # Kim's weekly shifts run Monday 00:00 to Monday 00:00 local; the window starts mid-shift.
    first = events[0].period
    assert first.start < a < first.end
    assert first.start == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # Monday 00:00 EST
    assert first.end - first.start == timedelta(weeks=1)
    last = events[-1].period
    assert last.start < b < last.end


def test_an_override_replaces_the_schedule_for_its_range_in_the_feed() -> None:
    start = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # Monday 20:00 in Detroit, Raj's night
    override = Override(7, "after-hours", "kim", start, start + 4 * H)
    events = rotation_events(source([override]), "after-hours", NOW)
    mine = [e.period for e in events if e.period.from_override]
    assert [(p.staff, p.start, p.end, p.override_id) for p in mine] == [
        ("kim", start, start + 4 * H, 7)
    ]
    # Raj is on call up to the override and again after it, not during it.
    raj = [e.period for e in events if e.period.staff == "raj"]
    assert any(p.end == start for p in raj)
    assert any(p.start == start + 4 * H for p in raj)
    assert not any(p.start < start + 4 * H and p.end > start for p in raj)


def test_a_staff_feed_holds_overrides_on_rotations_the_person_is_not_in() -> None:
    start = datetime(2026, 12, 9, 0, 0, tzinfo=UTC)
    override = Override(3, "after-hours", "kim", start, start + 2 * H)
    events = staff_events(source([override]), ROTATIONS, "kim", NOW)
    rotations = {e.rotation for e in events}
    assert rotations == {"leadership", "after-hours"}
    assert [e.period.start for e in events] == sorted(e.period.start for e in events)


# ---------------------------------------------------------------------------- iCalendar


def test_the_calendar_has_the_properties_calendar_apps_read() -> None:
    cal = parse(rotation_events(source(), "after-hours", NOW))
    assert str(cal["VERSION"]) == "2.0"
    assert "Partnerline" in str(cal["PRODID"])
    assert str(cal["X-WR-CALNAME"]) == "Lakeshore on call"
    assert cal["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert cal["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert cal.to_ical().count(b"X-PUBLISHED-TTL:PT1H") == 1


def test_events_are_in_utc_and_named_for_the_person_and_rotation() -> None:
    cal = parse(rotation_events(source(), "after-hours", NOW))
    items = vevents(cal)
    raj = [e for e in items if str(e["SUMMARY"]) == "On call: Raj Patel (after-hours)"]
    assert raj
    for item in items:
        assert item["DTSTART"].dt.tzinfo is not None
        assert item["DTSTART"].dt.utcoffset() == timedelta(0)
        assert item["DTEND"].dt > item["DTSTART"].dt
        assert "DTSTAMP" in item
    assert all(
        line.endswith(b"Z")
        for line in cal.to_ical().splitlines()
        if line.startswith((b"DTSTART", b"DTEND"))
    )


def test_uids_stay_the_same_when_the_window_moves_on() -> None:
    later = NOW + timedelta(days=1, hours=5)
    first = {
        str(e["UID"]): e for e in vevents(parse(rotation_events(source(), "after-hours", NOW)))
    }
    second = {
        str(e["UID"]): e
        for e in vevents(parse(rotation_events(source(), "after-hours", later), now=later))
    }
    shared = first.keys() & second.keys()
    assert len(shared) >= len(first) - 3  # only the oldest nights fell out of the window
    for uid in shared:
        assert first[uid]["DTSTART"].dt == second[uid]["DTSTART"].dt
        assert first[uid]["DTEND"].dt == second[uid]["DTEND"].dt
    assert len(first) == len(set(first))  # unique within a feed


def test_the_same_period_has_different_uids_in_staff_and_rotation_feeds() -> None:
    rotation = rotation_events(source(), "leadership", NOW)
    staff = staff_events(source(), ROTATIONS, "kim", NOW)
    rotation_uids = {str(e["UID"]) for e in vevents(parse(rotation, "rotation", "leadership"))}
    staff_uids = {str(e["UID"]) for e in vevents(parse(staff, "staff", "kim"))}
    assert rotation_uids and staff_uids
    assert rotation_uids.isdisjoint(staff_uids)


def test_whole_periods_refuse_naive_times() -> None:
    with pytest.raises(DomainError, match="UTC offset"):
        whole_periods(ROTATIONS["leadership"], NOW.replace(tzinfo=None), NOW, lambda a, b: [])
