"""Due times in plain words for clients: "8:40 PM", "Monday 9:30 AM", and beyond a week
"Monday, January 4, 9:30 AM".
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def clock_12h(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def due_in_words(due: datetime, now: datetime, zone: tzinfo) -> str:
    """`due` as the client reads it in `zone`: the time alone today, the weekday within the
    week, the full date beyond."""
    local_due, local_now = due.astimezone(zone), now.astimezone(zone)
    days = (local_due.date() - local_now.date()).days
    if days == 0:
        return clock_12h(local_due)
    if 0 < days < 7:
        return f"{local_due:%A} {clock_12h(local_due)}"
    return f"{local_due:%A, %B} {local_due.day}, {clock_12h(local_due)}"
