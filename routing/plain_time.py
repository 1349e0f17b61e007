"""Times in plain words, always with their zone: for clients, "8:40 PM EST", "Monday 9:30 AM
GMT", and beyond a week "Monday, January 4, 9:30 AM EST"; for staff, "Dec 6, 2:11 PM EST".
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def clock_12h(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def zone_abbreviation(t: datetime) -> str:
    """The abbreviation of `t`'s zone at `t` ("EST", "EDT", "GMT", "JST"). A zone that has
    none, which tzdata names by its offset ("+04", "-0330"), reads "UTC+4", "UTC-3:30"."""
    name = t.tzname() or ""
    if name[:1] not in ("+", "-"):
        return name
    return utc_offset(t.utcoffset() or timedelta(0))


def utc_offset(offset: timedelta) -> str:
    """ "UTC+9", "UTC-3:30", "UTC+5:45"; "UTC" for none."""
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def due_in_words(due: datetime, now: datetime, zone: tzinfo) -> str:
    """`due` as the client reads it in `zone`: the time alone today, the weekday within the
    week, the full date beyond; then the zone's abbreviation."""
    local_due, local_now = due.astimezone(zone), now.astimezone(zone)
    days = (local_due.date() - local_now.date()).days
    if days == 0:
        words = clock_12h(local_due)
    elif 0 < days < 7:
        words = f"{local_due:%A} {clock_12h(local_due)}"
    else:
        words = f"{local_due:%A, %B} {local_due.day}, {clock_12h(local_due)}"
    return f"{words} {zone_abbreviation(local_due)}"


def day_and_time(t: datetime, zone: tzinfo, now: datetime | None = None) -> str:
    """`t` as staff read it in `zone`: "Dec 6, 2:11 PM EST"; with the year when it is not
    `now`'s year there ("Dec 6 2025, 2:11 PM EST")."""
    local = t.astimezone(zone)
    year = "" if now is None or now.astimezone(zone).year == local.year else f" {local.year}"
    return f"{local:%b} {local.day}{year}, {clock_12h(local)} {zone_abbreviation(local)}"


def same_wall_clock(t: datetime, zone: tzinfo, other: tzinfo) -> bool:
    """True when `zone` and `other` show the same clock at `t` (the same offset, whatever
    their names): then a second reading would add nothing."""
    return t.astimezone(zone).utcoffset() == t.astimezone(other).utcoffset()


def beside(t: datetime, zone: tzinfo, other: tzinfo) -> str:
    """`t` in `other` as a second reading beside the one in `zone`: the time alone when both
    fall on the same day ("9:11 PM GMT"), else with the date; "" when they read alike."""
    if same_wall_clock(t, zone, other):
        return ""
    mine, theirs = t.astimezone(zone), t.astimezone(other)
    if mine.date() == theirs.date():
        return f"{clock_12h(theirs)} {zone_abbreviation(theirs)}"
    return f"{theirs:%b} {theirs.day}, {clock_12h(theirs)} {zone_abbreviation(theirs)}"
