"""iCalendar feeds of on-call time, one per staff member and one per rotation.

A feed URL carries its own credential: `token` is HMAC-SHA256 of "staff:ID" or "rotation:ID"
under PARTNERLINE_SECRET_KEY, so a calendar app can subscribe without logging in, and changing
the key revokes every feed URL at once.

Each event is one stretch of real on-call time (overrides cut in, business hours cut out of
after-hours rotations) from a week back to eight weeks ahead. Its UID is made of the rotation,
the source (a scheduled shift or an override), the start and the person, so refetching the feed
updates the same events instead of adding copies; a change of person or source is a new event.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from icalendar import Calendar, Event, vDuration

from bot.usecases.oncall import OnCallService
from routing.rotations import OnCallPeriod

FeedKind = Literal["staff", "rotation"]
# (rotation id, a, b) -> the rotation's whole periods overlapping [a, b): OnCallService.periods
PeriodsOf = Callable[[str, datetime, datetime], list[OnCallPeriod]]
PAST = timedelta(days=7)
AHEAD = timedelta(weeks=8)
REFRESH = timedelta(hours=1)
PRODID = "-//Partnerline//On-call feed//EN"
_PATHS: dict[FeedKind, str] = {"staff": "/calendars/staff", "rotation": "/calendars/rotations"}


def feed_token(secret: str, kind: FeedKind, ident: str) -> str:
    return hmac.new(secret.encode(), f"{kind}:{ident}".encode(), hashlib.sha256).hexdigest()


def token_matches(secret: str, kind: FeedKind, ident: str, token: str | None) -> bool:
    """Constant-time, so the answer's timing tells nothing about how close a guess was."""
    if not token:
        return False
    return hmac.compare_digest(feed_token(secret, kind, ident).encode(), token.encode())


def feed_path(secret: str, kind: FeedKind, ident: str) -> str:
    """The feed's path with its token, e.g. `/calendars/staff/ana.ics?token=…`."""
    return f"{_PATHS[kind]}/{ident}.ics?token={feed_token(secret, kind, ident)}"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    rotation: str
    period: OnCallPeriod


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    now = now.astimezone(UTC)
    return now - PAST, now + AHEAD


def rotation_events(periods_of: PeriodsOf, rotation: str, now: datetime) -> list[FeedEvent]:
    a, b = feed_window(now)
    return [FeedEvent(rotation, p) for p in periods_of(rotation, a, b)]


def staff_events(
    periods_of: PeriodsOf, rotations: Iterable[str], staff: str, now: datetime
) -> list[FeedEvent]:
    """The person's periods on every rotation, overrides on rotations they are not in too."""
    a, b = feed_window(now)
    events = [
        FeedEvent(rotation, p)
        for rotation in rotations
        for p in periods_of(rotation, a, b)
        if p.staff == staff
    ]
    return sorted(events, key=lambda e: (e.period.start, e.rotation))


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_uid(kind: FeedKind, ident: str, event: FeedEvent) -> str:
    p = event.period
    source = f"override{p.override_id}" if p.from_override else f"shift{p.shift_index}"
    # The feed is part of the UID: one event shown in two subscribed feeds is two objects.
    return f"{event.rotation}.{source}.{_stamp(p.start)}.{p.staff}@{kind}.{ident}.partnerline"


def render_calendar(
    names: Mapping[str, str],
    kind: FeedKind,
    ident: str,
    title: str,
    events: Iterable[FeedEvent],
    now: datetime,
) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", title)
    cal.add("x-wr-calname", title)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))  # what Outlook reads
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for event in events:
        p = event.period
        name = names.get(p.staff, p.staff)
        item = Event()
        item.add("uid", event_uid(kind, ident, event))
        item.add("dtstamp", stamp)
        item.add("dtstart", p.start)
        item.add("dtend", p.end)
        item.add("summary", f"On call: {name} ({event.rotation})")
        how = "an override" if p.from_override else "the rotation's schedule"
        item.add("description", f"{name} is on call for {event.rotation}, by {how}.")
        item.add("transp", "TRANSPARENT")  # on call is not busy
        cal.add_component(item)
    return cal.to_ical()


def rotation_feed(service: OnCallService, rotation: str, now: datetime) -> bytes:
    agency = service.directory.agency
    events = rotation_events(service.periods, rotation, now)
    title = f"{agency} on call: {rotation}"
    return render_calendar(service.names, "rotation", rotation, title, events, now)


def staff_feed(service: OnCallService, staff: str, now: datetime) -> bytes:
    agency = service.directory.agency
    name = service.names.get(staff, staff)
    events = staff_events(service.periods, service.rotations, staff, now)
    title = f"{agency} on call: {name}"
    return render_calendar(service.names, "staff", staff, title, events, now)
