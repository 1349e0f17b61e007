"""Times in plain words, each with its zone: due times as a client reads them in the client's
own zone, and times as staff read them in theirs, east and west of UTC and across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.plain_time import beside, day_and_time, due_in_words, utc_offset, zone_abbreviation

DETROIT, LONDON, KOLKATA, TOKYO = (
    ZoneInfo("America/Detroit"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Asia/Tokyo"),
)
NOW = datetime(2026, 12, 11, 16, 55, tzinfo=DETROIT)  # a Friday afternoon


@pytest.mark.parametrize(
    ("due", "zone", "words"),
    [
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), DETROIT, "8:40 PM EST"),
        (datetime(2026, 12, 11, 0, 5, tzinfo=DETROIT), DETROIT, "12:05 AM EST"),
        (datetime(2026, 12, 11, 12, 0, tzinfo=DETROIT), DETROIT, "12:00 PM EST"),
        (datetime(2026, 12, 14, 9, 30, tzinfo=DETROIT), DETROIT, "Monday 9:30 AM EST"),
        # 20:40 in Detroit is 01:40 on Saturday in London: another day there.
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), LONDON, "Saturday 1:40 AM GMT"),
        # In Kolkata it is Saturday already (03:25): the same day, so the time alone.
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), KOLKATA, "7:10 AM IST"),
        (
            datetime(2026, 12, 28, 9, 0, tzinfo=DETROIT),
            DETROIT,
            "Monday, December 28, 9:00 AM EST",
        ),
        # A zone tzdata gives no abbreviation: its offset from UTC instead.
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), ZoneInfo("Asia/Dubai"), "5:40 AM UTC+4"),
    ],
)
def test_due_time_in_plain_words(due: datetime, zone: ZoneInfo, words: str) -> None:
    assert due_in_words(due, NOW, zone) == words


def test_a_due_time_names_the_zone_it_falls_in_across_the_dst_change() -> None:
    """Saturday evening in EDT, due Monday after the clocks went back: EST is what holds then."""
    saturday = datetime(2026, 10, 31, 20, 0, tzinfo=DETROIT)
    monday = datetime(2026, 11, 2, 14, 0, tzinfo=DETROIT)
    assert due_in_words(monday, saturday, DETROIT) == "Monday 2:00 PM EST"
    assert due_in_words(saturday + timedelta(hours=1), saturday, DETROIT) == "9:00 PM EDT"
    # 01:30 happens twice that night: the zone tells which.
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert due_in_words(first, first, DETROIT) == "1:30 AM EDT"
    assert due_in_words(first + timedelta(hours=1), first, DETROIT) == "1:30 AM EST"


INSTANT = datetime(2026, 12, 6, 19, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "text"),
    [
        (ZoneInfo("UTC"), "Dec 6, 7:11 PM UTC"),
        (DETROIT, "Dec 6, 2:11 PM EST"),  # west of UTC
        (TOKYO, "Dec 7, 4:11 AM JST"),  # east of UTC, the next day
        (KOLKATA, "Dec 7, 12:41 AM IST"),  # a half-hour offset
        (ZoneInfo("America/St_Johns"), "Dec 6, 3:41 PM NST"),
        (ZoneInfo("Asia/Kathmandu"), "Dec 7, 12:56 AM UTC+5:45"),
    ],
)
def test_staff_read_one_instant_in_their_own_zone(zone: ZoneInfo, text: str) -> None:
    assert day_and_time(INSTANT, zone, INSTANT) == text


def test_staff_times_follow_the_dst_change_and_name_other_years() -> None:
    before = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST, before the spring change
    assert day_and_time(before, DETROIT) == "Mar 8, 1:30 AM EST"
    assert day_and_time(before + timedelta(hours=1), DETROIT) == "Mar 8, 3:30 AM EDT"
    assert day_and_time(before, LONDON) == "Mar 8, 6:30 AM GMT"
    assert day_and_time(datetime(2026, 7, 1, 12, tzinfo=UTC), LONDON) == "Jul 1, 1:00 PM BST"
    # Another year than now's, in the reader's zone: 1 January in Tokyo is 2027 there.
    assert day_and_time(datetime(2026, 12, 31, 16, tzinfo=UTC), TOKYO, INSTANT) == (
        "Jan 1 2027, 1:00 AM JST"
    )


def test_the_clients_reading_beside_the_staff_members() -> None:
    assert beside(INSTANT, DETROIT, LONDON) == "7:11 PM GMT"
    assert beside(INSTANT, DETROIT, TOKYO) == "Dec 7, 4:11 AM JST"
    assert beside(INSTANT, TOKYO, DETROIT) == "Dec 6, 2:11 PM EST"
    # Another zone that reads the same (New York and Detroit): nothing to add.
    assert beside(INSTANT, DETROIT, ZoneInfo("America/New_York")) == ""
    assert beside(INSTANT, LONDON, LONDON) == ""
    # London and Lisbon show the same clock, under other names in summer (BST, WEST).
    assert beside(datetime(2026, 7, 1, tzinfo=UTC), LONDON, ZoneInfo("Europe/Lisbon")) == ""


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(0), "UTC"),
        (timedelta(hours=9), "UTC+9"),
        (timedelta(hours=-3, minutes=-30), "UTC-3:30"),
        (timedelta(hours=5, minutes=45), "UTC+5:45"),
    ],
)
def test_offsets_read_as_utc_plus_or_minus(offset: timedelta, text: str) -> None:
    assert utc_offset(offset) == text


def test_a_fixed_offset_zone_names_its_offset() -> None:
    assert zone_abbreviation(datetime(2026, 1, 1, tzinfo=ZoneInfo("Etc/GMT+5"))) == "UTC-5"
    assert zone_abbreviation(datetime(2026, 1, 1, tzinfo=UTC)) == "UTC"
