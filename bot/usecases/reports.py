"""Promise reports: the figures of routing/reports.py over what storage/reports.py reads, for
a period, a zone and a caller's scope.

Who sees what: an admin sees every client and every person; a staff member sees the promises
and pages of the clients whose account team they are on, and their own on-call cost (and the
fairness of the rotations they belong to).

The holidays of the on-call split are the closed days of the agency's default calendar (the
unknown senders' tier's); each person's nights are in the zone their inbox login chose, else
in the report's zone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.usecases.directory import Directory
from routing.clock import Clock
from routing.errors import DomainError, NotFound
from routing.reports import (
    AfterHoursFigures,
    CommitmentFact,
    CommitmentLine,
    CostFigures,
    NotificationLine,
    OnCallStretch,
    OpenTime,
    Outcome,
    OutcomeCount,
    Period,
    PromiseFigures,
    ResponseSpreads,
    Spread,
    WeekPoint,
    business_seconds,
    commitment_line,
    cost_of,
    notification_lines,
    summed_figures,
    week_bounds,
)
from routing.rotations import shifts_between
from storage.overrides import OverrideRepository
from storage.reports import ReportReader
from storage.unit_of_work import UnitOfWork

# How long a client report's link works unless asked otherwise.
LINK_LIFETIME = timedelta(days=30)
# The longest period one report covers (two years and a leap day).
MAX_DAYS = 731
DEFAULT_DAYS = 28
NOTABLE_BREACHES = 10


@dataclass(frozen=True, slots=True)
class Scope:
    """What one caller may see: `clients` None is every client; `staff` None every person."""

    clients: frozenset[str] | None = None
    staff: str | None = None

    @property
    def everything(self) -> bool:
        return self.clients is None and self.staff is None


EVERYTHING = Scope()


def scope_for(directory: Directory, staff_id: str, is_admin: bool) -> Scope:
    if is_admin:
        return EVERYTHING
    mine = frozenset(c.id for c in directory.clients.values() if staff_id in c.account_team)
    return Scope(clients=mine, staff=staff_id)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    as_of: datetime
    promises: PromiseFigures
    trend: list[WeekPoint]
    after_hours: AfterHoursFigures
    cost: CostFigures
    names: dict[str, str] = field(default_factory=dict)  # staff and client ids -> names


@dataclass(frozen=True, slots=True)
class ClientMonth:
    """One client's month, for the report an agency sends it."""

    client_id: str
    client_name: str
    agency: str
    month: str  # YYYY-MM
    period: Period  # in the client's zone
    as_of: datetime
    promises: PromiseFigures
    response: Spread  # every answered commitment, first and next, wall-clock
    response_business: Spread
    after_hours_contacts: int  # after-hours promises started
    after_hours_answered: int
    acknowledgements: int
    breaches: list[CommitmentLine]  # the latest-answered first, at most NOTABLE_BREACHES


def _signature(secret: str, client_id: str, month: str, expires: int) -> str:
    message = f"client-report:{client_id}:{month}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def report_token(secret: str, client_id: str, month: str, expires: datetime) -> str:
    """`EXPIRES.SIGNATURE`: HMAC-SHA256 under PARTNERLINE_SECRET_KEY of the client, the month
    and the expiry (POSIX seconds), so a link opens one client's one month until then, and
    changing the key revokes every link at once (as for the calendar feeds)."""
    stamp = int(expires.timestamp())
    return f"{stamp}.{_signature(secret, client_id, month, stamp)}"


def report_token_valid(
    secret: str, client_id: str, month: str, token: str | None, now: datetime
) -> bool:
    """Constant-time; False when malformed, for another client or month, or expired."""
    stamp_text, _, signature = (token or "").partition(".")
    if not stamp_text.isdigit() or len(stamp_text) > 12 or not signature:
        return False
    stamp = int(stamp_text)
    expected = _signature(secret, client_id, month, stamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return False
    return now.timestamp() < stamp


def report_path(secret: str, client_id: str, month: str, expires: datetime) -> str:
    """The report's path with its token, e.g. `/reports/clients/acme?month=2026-12&token=…`."""
    token = report_token(secret, client_id, month, expires)
    return f"/reports/clients/{quote(client_id, safe='')}?month={month}&token={token}"


def parse_zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError("bad_zone", f"zone: {name!r} is not an IANA time zone") from exc


def parse_day(text: str | None, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise DomainError("bad_date", f"{what}: {text!r} is not a date (YYYY-MM-DD)") from exc


def parse_month(text: str) -> tuple[int, int]:
    try:
        first = datetime.strptime(text, "%Y-%m")
    except ValueError as exc:
        raise DomainError("bad_month", f"month: {text!r} is not a month (YYYY-MM)") from exc
    if not 1970 <= first.year <= 2999:
        raise DomainError("bad_month", "month: the year must lie in 1970-2999")
    return first.year, first.month


class ReportService:
    """The reports; each call opens its own read-only unit of work."""

    def __init__(
        self, directory: Directory, reader: Callable[[], UnitOfWork], clock: Clock
    ) -> None:
        self.directory = directory
        self.reader = reader
        self.clock = clock
        self.calendars: dict[str, OpenTime] = {
            tier: policy.calendar for tier, policy in directory.commitments.items()
        }
        default = directory.commitments.get(directory.unknown_senders.tier)
        self.holiday: Callable[[date], bool] = (
            default.calendar.closed_day if default is not None else (lambda _day: False)
        )

    # ------------------------------------------------------------------ periods
    def period(self, first: str | None, last: str | None, zone: str | None) -> Period:
        """Local days `first` to `last` (both included) in `zone` (default the agency's);
        without them, the last `DEFAULT_DAYS` days up to today."""
        tz = parse_zone(zone, self.directory.zone)
        end_day = parse_day(last, "to")
        start_day = parse_day(first, "from")
        today = self.clock.now().astimezone(tz).date()
        end_day = end_day or (
            start_day + timedelta(days=DEFAULT_DAYS - 1) if start_day is not None else today
        )
        start_day = start_day or end_day - timedelta(days=DEFAULT_DAYS - 1)
        if end_day < start_day:
            raise DomainError("bad_period", "to: the period ends before it starts")
        if (end_day - start_day).days >= MAX_DAYS:
            raise DomainError("bad_period", f"a report covers at most {MAX_DAYS} days")
        if start_day.year < 1970 or end_day.year > 2999:
            raise DomainError("bad_period", "a report's dates lie in the years 1970-2999")
        return Period.of_dates(start_day, end_day, tz)

    # ------------------------------------------------------------------ the whole report
    def report(self, period: Period, scope: Scope = EVERYTHING) -> Report:
        as_of = self.clock.now().astimezone(UTC)
        clients = scope.clients
        bounds = week_bounds(period)
        with self.reader() as uow:
            reader = ReportReader(uow.session)
            counts, spreads = reader.period_figures(
                period.start, period.end, as_of, bounds, self.calendars, clients
            )
            zones = self._zones(reader)
            after_hours, paging = reader.after_hours(period, as_of, zones, clients)
            stretches = self._stretches(uow, period)
        rotations = {rid: r.members for rid, r in self.directory.rotations.items()}
        people = list(self.directory.staff)
        if scope.staff is not None:
            stretches = [s for s in stretches if s.staff == scope.staff]
            rotations = {rid: m for rid, m in rotations.items() if scope.staff in m}
            people = [scope.staff]
        cost = cost_of(stretches, paging, period, rotations, zones, self.holiday, staff=people)
        if scope.staff is not None:
            cost = CostFigures({scope.staff: cost.people[scope.staff]}, cost.fairness)
        promises, trend = summed_figures(counts, spreads, period)
        return Report(
            period=period,
            as_of=as_of,
            promises=promises,
            trend=trend,
            after_hours=after_hours,
            cost=cost,
            names=self.names(),
        )

    def names(self) -> dict[str, str]:
        out = {c.id: c.name for c in self.directory.clients.values()}
        out.update(self.directory.staff_names)
        return out

    def _stretches(self, uow: UnitOfWork, period: Period) -> list[OnCallStretch]:
        overrides = OverrideRepository(uow.session)
        out: list[OnCallStretch] = []
        for rid, rotation in self.directory.rotations.items():
            near = overrides.list_for(rid, period.start, period.end)
            for p in shifts_between(rotation, period.start, period.end, near):
                out.append(OnCallStretch(rid, p.staff, p.start, p.end))
        return out

    def _zones(self, reader: ReportReader) -> dict[str, tzinfo]:
        zones: dict[str, tzinfo] = {}
        for staff, name in reader.staff_zones().items():
            try:
                zones[staff] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue  # a zone this machine no longer knows: the report's
        return zones

    # ------------------------------------------------------------------ upkeep
    def backfill(self, writer: Callable[[], UnitOfWork], batch: int = 5000) -> int:
        """Record the business time of commitments answered before migration 0016 (the live
        path records it as it answers), by the calendars of the configuration in force, a
        batch a transaction; how many. Until then the reports compute it as they read."""
        done = last = 0
        while True:
            with writer() as uow:
                rows = uow.commitments.unmeasured(self.calendars, last, batch)
                if not rows:
                    return done
                uow.commitments.record_business_seconds(
                    {
                        cid: business_seconds(self.calendars[tier], started, answered)
                        for cid, tier, started, answered in rows
                    }
                )
                uow.commit()
            done += len(rows)
            last = rows[-1][0]

    # ------------------------------------------------------------------ row-level exports
    def commitment_lines(
        self, period: Period, scope: Scope = EVERYTHING
    ) -> Iterator[CommitmentLine]:
        """One line per commitment started in the period, streamed from the database."""
        as_of = self.clock.now().astimezone(UTC)
        with self.reader() as uow:
            for fact in ReportReader(uow.session).iter_commitments(
                period.start, period.end, scope.clients
            ):
                yield commitment_line(fact, as_of, self.calendars)

    def notification_lines(
        self, period: Period, scope: Scope = EVERYTHING
    ) -> Iterator[NotificationLine]:
        """One line per page notification sent (or due) in the period."""
        with self.reader() as uow:
            reader = ReportReader(uow.session)
            pages = reader.pages(period.start, period.end, scope.clients)
            zones = self._zones(reader)
        for page in pages:
            for line in notification_lines(page, zones, period.zone):
                when = line.sent_at or line.due_at
                if not period.holds(when):
                    continue
                yield line

    # ------------------------------------------------------------------ a client's month
    def client_month(self, client_id: str, month: str) -> ClientMonth:
        client = self.directory.clients.get(client_id)
        if client is None:
            raise NotFound("client_not_found", f"no client {client_id!r}")
        year, number = parse_month(month)
        zone = self.directory.terms_of(client_id).zone
        period = Period.of_month(year, number, zone)
        as_of = self.clock.now().astimezone(UTC)
        only = frozenset({client_id})
        with self.reader() as uow:
            reader = ReportReader(uow.session)
            counts, spreads = reader.period_figures(
                period.start,
                period.end,
                as_of,
                week_bounds(period),
                self.calendars,
                only,
                every=True,
            )
            breached = reader.breached(period.start, period.end, as_of, only)
            acks = reader.acknowledgements(period.start, period.end, as_of, only)
        return client_month_of(
            client_id,
            client.name,
            self.directory.agency,
            f"{year:04d}-{number:02d}",
            (counts, spreads, breached),
            acks,
            period,
            as_of,
            self.calendars,
        )


def client_month_of(
    client_id: str,
    client_name: str,
    agency: str,
    month: str,
    read: tuple[list[OutcomeCount], ResponseSpreads, list[CommitmentFact]],
    acknowledgements: int,
    period: Period,
    as_of: datetime,
    calendars: dict[str, OpenTime],
) -> ClientMonth:
    """The month from what the database summed (`read`: the outcome counts, the response
    spreads and the breached commitments of the month)."""
    counts, spreads, breached = read
    promises, _weeks = summed_figures(counts, spreads, period)
    lines = [commitment_line(f, as_of, calendars) for f in breached]
    # The latest-answered first (a stable sort: of equals, the earliest started).
    breaches = sorted(lines, key=lambda x: -(x.late_by_seconds or 0))[:NOTABLE_BREACHES]
    after = [c for c in counts if c.after_hours]
    return ClientMonth(
        client_id=client_id,
        client_name=client_name,
        agency=agency,
        month=month,
        period=period,
        as_of=as_of,
        promises=promises,
        response=spreads.every[0],
        response_business=spreads.every[1],
        after_hours_contacts=sum(c.count for c in after),
        # Answered by `as_of`: in time, or late.
        after_hours_answered=sum(c.count for c in after if c.outcome is Outcome.MET or c.late),
        acknowledgements=acknowledgements,
        breaches=sorted(breaches, key=lambda x: x.started_at),
    )
