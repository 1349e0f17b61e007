"""Builds business-hours calendars from plain values, with public holidays (the configuration
is read into them in bot/config/directory.py).

`routing` stays free of the `holidays` package: the holiday lookup is handed to
BusinessCalendar as a plain `closed_day` predicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

import holidays

from routing.business_hours import BusinessCalendar


def holiday_predicate(country: str, subdivision: str | None = None) -> Callable[[date], bool]:
    """`day in` the public holidays (observed days included) of a country or subdivision.

    Raises ValueError for a country or subdivision the holidays package does not know.
    """
    try:
        table = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:  # how the package says "unknown country/subdivision"
        where = country if subdivision is None else f"{country}/{subdivision}"
        raise ValueError(f"no public holidays known for {where}: {exc}") from exc
    # The table fills in each year on first lookup.
    return table.__contains__


def build_calendar(
    timezone: str,
    weekly: Mapping[int, Sequence[tuple[int, int]]],
    holiday_country: str | None,
    holiday_subdivision: str | None,
    closed: Iterable[date],
) -> BusinessCalendar:
    """A calendar in `timezone` with weekly windows (weekday 0 = Monday, minutes of the day),
    closed on the public holidays of `holiday_country`/`holiday_subdivision` (if given) and on
    the `closed` dates."""
    if holiday_country is None and holiday_subdivision is not None:
        raise ValueError("a holiday subdivision needs a holiday country")
    extra = frozenset(closed)
    if holiday_country is None:
        # No closed day at all: None lets the calendar see that it may be always open.
        return BusinessCalendar(timezone, weekly, extra.__contains__ if extra else None)
    is_holiday = holiday_predicate(holiday_country, holiday_subdivision)

    def closed_day(day: date) -> bool:
        return day in extra or is_holiday(day)

    return BusinessCalendar(timezone, weekly, closed_day)
