"""Promise reports: did the agency keep its word, for whom, and what did it cost the people on call.

Pure functions over plain records of what happened (storage/reports.py loads them); the period,
its zone, the business calendars, each person's zone and the holidays are parameters, and `as_of`
(the instant the report is drawn) stands in for "now".

Definitions (the README's "Promise reports" says the same):

Promises
    A commitment belongs to the period its clock *started* in: the client message that found
    no commitment waiting on its conversation. Its outcome is read from its times as of `as_of`:
    - met: the agency's first answer came at or before the due time;
    - breached: the due time passed first. A late answer does not undo a breach: it still counts
      as breached (and as a late answer), and its response time counts in the speed figures;
    - unanswered: the conversation was closed before the due time with no answer. It is neither
      met nor breached, so it stays out of attainment; a commitment already breached when closed
      stays breached;
    - pending: none of these yet (not due, not answered, not closed).
    Attainment is met / (met + breached): pending and unanswered promises are undecided.
    The answering staff member is whoever wrote the first answer; "in hours" and "after hours"
    is whether the message arrived inside the tier's business hours.

Speed
    A response time runs from the client message that started a commitment to the agency's
    first answer (a staff reply on the client's channel, or an answer relayed from a page). The
    first commitment of a conversation gives a *first* response time, every later one a *next*
    response time. Wall-clock time counts every second; business time only the seconds the
    tier's calendar is open (a message at 17:00 answered at 09:30 the next working morning took
    16.5 hours of wall-clock time and 30 minutes of business time). Only answered commitments
    have a response time. Median and p90 are nearest-rank: the smallest value with at least
    half (90 %) of the values at or below it, always one of the real values.

After hours
    Acknowledgements are the automatic after-hours replies sent in the period. Pages count in
    the period they opened. Time to acknowledge runs from a page's opening to its
    acknowledgement. A page "reached step 2" when its escalation ran a second step (or went
    round again). "Never acknowledged" pages ended (answered, closed) or are still open with
    nobody acknowledging them.

Cost to people
    On-call time is what the rotations and overrides say (routing.rotations.shifts_between),
    clipped to the period, split into exactly one of: night (22:00-07:00 in the person's zone,
    any day), else holiday (a day the agency's calendar closes for a holiday or an extra closed
    date), else weekend (Saturday, Sunday), else weekday. A page is received when a notification
    of it was sent to the person in the period; a night woken is a night (22:00-07:00, their zone)
    in which at least one such notification reached them, counted once however many came.
    Fairness, per rotation: the most pages any member received divided by the mean over all its
    members (1.0 is perfectly even; None when nobody was paged).
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import Protocol

NIGHT_STARTS = time(22, 0)
NIGHT_ENDS = time(7, 0)
_ZERO = timedelta(0)


class Outcome(enum.StrEnum):
    MET = "met"
    BREACHED = "breached"
    UNANSWERED = "unanswered"
    PENDING = "pending"


class Kind(enum.StrEnum):
    """The bucket an on-call second falls into (see "Cost to people")."""

    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    NIGHT = "night"


class OpenTime(Protocol):
    """What the speed figures need from a business calendar (BusinessCalendar has it)."""

    def between_epoch(self, a: float, b: float) -> float:
        """Open seconds in [a, b), POSIX seconds in and out."""
        ...


# ---------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC; `zone` places the weeks and writes the dates."""

    start: datetime
    end: datetime
    zone: tzinfo

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or self.end.utcoffset() is None:
            raise ValueError("a report period needs timezone-aware instants")
        if self.end <= self.start:
            raise ValueError("a report period must end after it starts")

    def holds(self, t: datetime | None) -> bool:
        return t is not None and self.start <= t < self.end

    @classmethod
    def of_dates(cls, first: date, last: date, zone: tzinfo) -> Period:
        """Local days `first` to `last`, both included, in `zone`."""
        start = datetime.combine(first, time(0), zone).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
        return cls(start, end, zone)

    @classmethod
    def of_month(cls, year: int, month: int, zone: tzinfo) -> Period:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls.of_dates(first, following - timedelta(days=1), zone)


@dataclass(frozen=True, slots=True)
class CommitmentFact:
    """One commitment as the report reads it. `first`: the first of its conversation."""

    id: int
    conversation_id: int
    client_id: str | None
    tier: str
    channel: str
    after_hours: bool
    started_at: datetime
    due_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None  # staff id of the first answer
    closed_at: datetime | None = None  # closed before any answer
    first: bool = True
    # The open seconds it waited by its tier's calendar, recorded when it was answered;
    # None: computed from the calendars the report is given.
    business_seconds: float | None = None

    def outcome(self, as_of: datetime) -> Outcome:
        if self.answered_at is not None and self.answered_at <= as_of:
            return Outcome.MET if self.answered_at <= self.due_at else Outcome.BREACHED
        if self.closed_at is not None and self.closed_at < self.due_at and self.closed_at <= as_of:
            return Outcome.UNANSWERED
        return Outcome.BREACHED if self.due_at <= as_of else Outcome.PENDING

    def answered_by_then(self, as_of: datetime) -> datetime | None:
        """The first answer, if it came by `as_of`."""
        answered = self.answered_at
        return answered if answered is not None and answered <= as_of else None


@dataclass(frozen=True, slots=True)
class NotificationFact:
    """One person told of a page on one channel at one step; `sent_at` None: never sent."""

    id: int
    page_id: int
    staff: str
    channel: str
    step: int
    due_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class PageFact:
    id: int
    conversation_id: int
    client_id: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    step: int  # 1-based, the last step run
    round: int  # 0, then 1.. for each repeat
    notifications: tuple[NotificationFact, ...] = ()

    @property
    def reached_step_2(self) -> bool:
        return self.step >= 2 or self.round >= 1


@dataclass(frozen=True, slots=True)
class OnCallStretch:
    """A stretch one person is on call for one rotation (from routing.rotations.shifts_between)."""

    rotation: str
    staff: str
    start: datetime
    end: datetime


# ---------------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Spread:
    """Nearest-rank median and p90, the maximum, and how many values there were."""

    count: int
    median: timedelta | None
    p90: timedelta | None
    max: timedelta | None


def nearest_rank(ordered: Sequence[timedelta], share: float) -> timedelta | None:
    """The smallest value with at least `share` of the (sorted) values at or below it."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spread(values: Iterable[timedelta]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread(0, None, None, None)
    return Spread(len(ordered), nearest_rank(ordered, 0.5), nearest_rank(ordered, 0.9), ordered[-1])


@dataclass(slots=True)
class Tally:
    started: int = 0
    met: int = 0
    breached: int = 0
    unanswered: int = 0
    pending: int = 0
    late_answers: int = 0  # breached, then answered

    @property
    def decided(self) -> int:
        return self.met + self.breached

    @property
    def attainment(self) -> float | None:
        """met / (met + breached); None while nothing is decided."""
        return self.met / self.decided if self.decided else None

    def add(self, outcome: Outcome, late_answer: bool, count: int = 1) -> None:
        self.started += count
        if outcome is Outcome.MET:
            self.met += count
        elif outcome is Outcome.BREACHED:
            self.breached += count
            self.late_answers += count if late_answer else 0
        elif outcome is Outcome.UNANSWERED:
            self.unanswered += count
        else:
            self.pending += count


@dataclass(frozen=True, slots=True)
class Speed:
    """First and next response times, in wall-clock and business time."""

    first_wall: Spread
    first_business: Spread
    next_wall: Spread
    next_business: Spread


@dataclass(frozen=True, slots=True)
class PromiseFigures:
    total: Tally
    by_client: dict[str | None, Tally]
    by_tier: dict[str, Tally]
    by_channel: dict[str, Tally]
    by_staff: dict[str | None, Tally]  # who answered; None: nobody (yet)
    by_hours: dict[str, Tally]  # "in_hours", "after_hours"
    speed: Speed
    speed_by_client: dict[str | None, Speed]


@dataclass(frozen=True, slots=True)
class Response:
    """How long one commitment waited for its answer (None: not answered by `as_of`)."""

    wall: timedelta | None
    business: timedelta | None


def business_seconds(calendar: OpenTime, start: datetime, end: datetime) -> float:
    """The open seconds of `calendar` in [start, end) (through its epoch API: the same open
    time, without a datetime per bisection)."""
    return calendar.between_epoch(start.timestamp(), end.timestamp())


def response(fact: CommitmentFact, as_of: datetime, calendars: Mapping[str, OpenTime]) -> Response:
    answered = fact.answered_by_then(as_of)
    if answered is None:
        return Response(None, None)
    wall = max(answered - fact.started_at, _ZERO)
    if fact.business_seconds is not None:
        return Response(wall, timedelta(seconds=fact.business_seconds))
    calendar = calendars.get(fact.tier)
    if calendar is None:
        return Response(wall, None)
    return Response(wall, timedelta(seconds=business_seconds(calendar, fact.started_at, answered)))


def hours_key(fact: CommitmentFact) -> str:
    return "after_hours" if fact.after_hours else "in_hours"


def _speed(responses: Sequence[tuple[bool, Response]]) -> Speed:
    def pick(first: bool, business: bool) -> list[timedelta]:
        out: list[timedelta] = []
        for is_first, r in responses:
            value = r.business if business else r.wall
            if is_first == first and value is not None:
                out.append(value)
        return out

    return Speed(
        spread(pick(True, False)),
        spread(pick(True, True)),
        spread(pick(False, False)),
        spread(pick(False, True)),
    )


@dataclass(frozen=True, slots=True)
class Scored:
    """A commitment of the period with its outcome, answer and response time as of the report."""

    fact: CommitmentFact
    outcome: Outcome
    answered: datetime | None
    response: Response


def score(
    facts: Iterable[CommitmentFact],
    period: Period,
    as_of: datetime,
    calendars: Mapping[str, OpenTime],
) -> list[Scored]:
    """The commitments started in `period`, each read once (the figures below share it)."""
    out: list[Scored] = []
    for fact in facts:
        if period.holds(fact.started_at):
            answered = fact.answered_by_then(as_of)
            out.append(
                Scored(fact, fact.outcome(as_of), answered, response(fact, as_of, calendars))
            )
    return out


def promise_figures(
    facts: Iterable[CommitmentFact],
    period: Period,
    as_of: datetime,
    calendars: Mapping[str, OpenTime],
    scored: Sequence[Scored] | None = None,
) -> PromiseFigures:
    """Promises started in `period`, their outcomes as of `as_of`, tallied every way, with
    their response times (`calendars`: each tier's business calendar). `scored`: what
    `score` gave for the same arguments, to read each commitment once."""
    total = Tally()
    by_client: defaultdict[str | None, Tally] = defaultdict(Tally)
    by_tier: defaultdict[str, Tally] = defaultdict(Tally)
    by_channel: defaultdict[str, Tally] = defaultdict(Tally)
    by_staff: defaultdict[str | None, Tally] = defaultdict(Tally)
    by_hours: defaultdict[str, Tally] = defaultdict(Tally)
    responses: list[tuple[bool, Response]] = []
    client_responses: defaultdict[str | None, list[tuple[bool, Response]]] = defaultdict(list)
    for item in scored if scored is not None else score(facts, period, as_of, calendars):
        fact, outcome, answered, r = item.fact, item.outcome, item.answered, item.response
        late = outcome is Outcome.BREACHED and answered is not None
        staff = fact.answered_by if answered is not None else None
        for tally in (
            total,
            by_client[fact.client_id],
            by_tier[fact.tier],
            by_channel[fact.channel],
            by_staff[staff],
            by_hours[hours_key(fact)],
        ):
            tally.add(outcome, late)
        responses.append((fact.first, r))
        client_responses[fact.client_id].append((fact.first, r))
    return PromiseFigures(
        total=total,
        by_client=dict(by_client),
        by_tier=dict(by_tier),
        by_channel=dict(by_channel),
        by_staff=dict(by_staff),
        by_hours=dict(by_hours),
        speed=_speed(responses),
        speed_by_client={client: _speed(rs) for client, rs in client_responses.items()},
    )


# ---------------------------------------------------------------------------------- weeks


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One week (Monday to Sunday in the period's zone) of promises started."""

    week: date  # its Monday
    started: int
    attainment: float | None
    first_p90: timedelta | None  # wall-clock p90 of first response times
    first_p90_business: timedelta | None


def week_of(t: datetime, zone: tzinfo) -> date:
    local = t.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def period_weeks(period: Period) -> list[date]:
    """The Monday of every week the period touches, in its zone, oldest first."""
    week = week_of(period.start, period.zone)
    last = week_of(period.end - timedelta(microseconds=1), period.zone)
    out = []
    while week <= last:
        out.append(week)
        week += timedelta(days=7)
    return out


def week_bounds(period: Period) -> list[datetime]:
    """When each of the period's weeks after its first begins (Monday 00:00 in its zone), in
    UTC: an instant's week is how many of these it is at or after."""
    return [
        datetime.combine(monday, time(0), period.zone).astimezone(UTC)
        for monday in period_weeks(period)[1:]
    ]


def weekly_trend(
    facts: Iterable[CommitmentFact],
    period: Period,
    as_of: datetime,
    calendars: Mapping[str, OpenTime],
    scored: Sequence[Scored] | None = None,
) -> list[WeekPoint]:
    """Every week the period touches, oldest first, empty weeks included."""
    tallies: defaultdict[date, Tally] = defaultdict(Tally)
    firsts: defaultdict[date, list[Response]] = defaultdict(list)
    for item in scored if scored is not None else score(facts, period, as_of, calendars):
        week = week_of(item.fact.started_at, period.zone)
        tallies[week].add(item.outcome, False)
        if item.fact.first:
            firsts[week].append(item.response)
    points = []
    for week in period_weeks(period):
        tally = tallies.get(week, Tally())
        walls = sorted(r.wall for r in firsts.get(week, []) if r.wall is not None)
        business = sorted(r.business for r in firsts.get(week, []) if r.business is not None)
        points.append(
            WeekPoint(
                week,
                tally.started,
                tally.attainment,
                nearest_rank(walls, 0.9),
                nearest_rank(business, 0.9),
            )
        )
    return points


# ---------------------------------------------------------------------------------- summed


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """How many commitments of a period share a client, tier, channel, answerer, hours,
    week and outcome: what the database sums for `promise_figures` (storage/reports.py)."""

    client_id: str | None
    tier: str
    channel: str
    staff: str | None  # who answered, if answered by `as_of`
    after_hours: bool
    week: int  # index in period_weeks(period)
    outcome: Outcome
    late: bool  # breached, then answered
    count: int


@dataclass(frozen=True, slots=True)
class ResponseSample:
    """One answered commitment's response times (its business time None: no calendar)."""

    first: bool
    client_id: str | None
    week: int  # index in period_weeks(period)
    wall: timedelta
    business: timedelta | None


@dataclass(frozen=True, slots=True)
class ResponseSpreads:
    """A period's speed figures: overall, per client, each week's p90 first response
    (wall-clock, business; weeks with no answer absent), and every response, first and next
    together (wall-clock, business)."""

    speed: Speed
    by_client: dict[str | None, Speed]
    week_first_p90: dict[int, tuple[timedelta | None, timedelta | None]]
    every: tuple[Spread, Spread]


def response_spreads(samples: Iterable[ResponseSample]) -> ResponseSpreads:
    """The spreads of `ResponseSpreads` from every answered commitment of a period."""
    everyone: list[tuple[bool, Response]] = []
    by_client: defaultdict[str | None, list[tuple[bool, Response]]] = defaultdict(list)
    weeks: defaultdict[int, list[Response]] = defaultdict(list)
    for sample in samples:
        r = Response(sample.wall, sample.business)
        everyone.append((sample.first, r))
        by_client[sample.client_id].append((sample.first, r))
        if sample.first:
            weeks[sample.week].append(r)
    week_p90 = {}
    for week, rs in weeks.items():
        walls = sorted(r.wall for r in rs if r.wall is not None)
        business = sorted(r.business for r in rs if r.business is not None)
        week_p90[week] = (nearest_rank(walls, 0.9), nearest_rank(business, 0.9))
    every = (
        spread(r.wall for _, r in everyone if r.wall is not None),
        spread(r.business for _, r in everyone if r.business is not None),
    )
    return ResponseSpreads(
        _speed(everyone), {c: _speed(rs) for c, rs in by_client.items()}, week_p90, every
    )


_NO_SPEED = Speed(*(Spread(0, None, None, None),) * 4)


def summed_figures(
    counts: Iterable[OutcomeCount], spreads: ResponseSpreads, period: Period
) -> tuple[PromiseFigures, list[WeekPoint]]:
    """`promise_figures` and `weekly_trend` from what the database summed: the same figures
    (the tests compare them) without a row per commitment."""
    total = Tally()
    by_client: defaultdict[str | None, Tally] = defaultdict(Tally)
    by_tier: defaultdict[str, Tally] = defaultdict(Tally)
    by_channel: defaultdict[str, Tally] = defaultdict(Tally)
    by_staff: defaultdict[str | None, Tally] = defaultdict(Tally)
    by_hours: defaultdict[str, Tally] = defaultdict(Tally)
    by_week: defaultdict[int, Tally] = defaultdict(Tally)
    for c in counts:
        for tally in (
            total,
            by_client[c.client_id],
            by_tier[c.tier],
            by_channel[c.channel],
            by_staff[c.staff],
            by_hours["after_hours" if c.after_hours else "in_hours"],
        ):
            tally.add(c.outcome, c.late, c.count)
        by_week[c.week].add(c.outcome, False, c.count)
    figures = PromiseFigures(
        total=total,
        by_client=dict(by_client),
        by_tier=dict(by_tier),
        by_channel=dict(by_channel),
        by_staff=dict(by_staff),
        by_hours=dict(by_hours),
        speed=spreads.speed,
        speed_by_client={c: spreads.by_client.get(c, _NO_SPEED) for c in by_client},
    )
    points = []
    for n, week in enumerate(period_weeks(period)):
        tally = by_week.get(n, Tally())
        wall, business = spreads.week_first_p90.get(n, (None, None))
        points.append(WeekPoint(week, tally.started, tally.attainment, wall, business))
    return figures, points


# ---------------------------------------------------------------------------------- after hours


@dataclass(frozen=True, slots=True)
class AfterHoursFigures:
    acknowledgements: int
    pages_opened: int
    time_to_acknowledge: Spread
    reached_step_2: int
    never_acknowledged: int
    still_open: int  # of the never acknowledged: not ended by `as_of`
    acknowledged_at_step: dict[int, int]  # step the page had reached -> pages acknowledged


def after_hours_figures(
    pages: Iterable[PageFact],
    acknowledgements: Iterable[datetime] | int,
    period: Period,
    as_of: datetime,
) -> AfterHoursFigures:
    """Acknowledgements sent and pages opened in `period`, as of `as_of`. `acknowledgements`:
    when each was sent, or how many were sent in the period by `as_of` (counted by the
    database)."""
    opened = [p for p in pages if period.holds(p.opened_at) and p.opened_at <= as_of]
    acked = [p for p in opened if p.acknowledged_at is not None and p.acknowledged_at <= as_of]
    acked_ids = {p.id for p in acked}
    never = [p for p in opened if p.id not in acked_ids]
    at_step: defaultdict[int, int] = defaultdict(int)
    for p in acked:
        at_step[p.step] += 1
    return AfterHoursFigures(
        acknowledgements=acknowledgements
        if isinstance(acknowledgements, int)
        else sum(1 for t in acknowledgements if period.holds(t) and t <= as_of),
        pages_opened=len(opened),
        time_to_acknowledge=spread(
            p.acknowledged_at - p.opened_at for p in acked if p.acknowledged_at is not None
        ),
        reached_step_2=sum(1 for p in opened if p.reached_step_2),
        never_acknowledged=len(never),
        still_open=sum(1 for p in never if p.resolved_at is None or p.resolved_at > as_of),
        acknowledged_at_step=dict(sorted(at_step.items())),
    )


# ---------------------------------------------------------------------------------- people


@dataclass(slots=True)
class PersonCost:
    staff: str
    on_call: dict[Kind, timedelta] = field(default_factory=lambda: dict.fromkeys(Kind, _ZERO))
    pages_received: int = 0
    notifications: int = 0
    nights_woken: int = 0

    @property
    def on_call_total(self) -> timedelta:
        return sum(self.on_call.values(), _ZERO)


@dataclass(frozen=True, slots=True)
class Fairness:
    """Pages per member of one rotation, and max / mean over its members."""

    rotation: str
    pages: dict[str, int]
    ratio: float | None


@dataclass(frozen=True, slots=True)
class CostFigures:
    people: dict[str, PersonCost]  # by staff id, sorted
    fairness: list[Fairness]


def kind_at(local: datetime, holiday: Callable[[date], bool]) -> Kind:
    """The bucket of a local wall time: night first, then holiday, weekend, weekday."""
    wall = local.time()
    if wall >= NIGHT_STARTS or wall < NIGHT_ENDS:
        return Kind.NIGHT
    if holiday(local.date()):
        return Kind.HOLIDAY
    if local.weekday() >= 5:
        return Kind.WEEKEND
    return Kind.WEEKDAY


def split_on_call(
    start: datetime, end: datetime, zone: tzinfo, holiday: Callable[[date], bool]
) -> dict[Kind, timedelta]:
    """[start, end) cut at every local 00:00, 07:00 and 22:00 of `zone`, each piece in its bucket.

    Pieces are measured in real (UTC) time, so a night across a clock change counts the hours
    that really passed."""
    out = dict.fromkeys(Kind, _ZERO)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return out
    cuts = {start, end}
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for wall in (time(0), NIGHT_ENDS, NIGHT_STARTS):
            cut = datetime.combine(day, wall, zone).astimezone(UTC)
            if start < cut < end:
                cuts.add(cut)
        day += timedelta(days=1)
    ordered = sorted(cuts)
    for a, b in pairwise(ordered):
        out[kind_at(a.astimezone(zone), holiday)] += b - a
    return out


def night_of(t: datetime, zone: tzinfo) -> date | None:
    """The date a night began on, when `t` falls in one (22:00-07:00 in `zone`); else None."""
    local = t.astimezone(zone)
    if local.time() >= NIGHT_STARTS:
        return local.date()
    if local.time() < NIGHT_ENDS:
        return local.date() - timedelta(days=1)
    return None


@dataclass(frozen=True, slots=True)
class Paged:
    """One person's page notifications sent in a period: how many, of how many pages, and
    on how many nights (22:00-07:00 in their zone)."""

    staff: str
    notifications: int
    pages: int
    nights: int


def paged(pages: Iterable[PageFact], period: Period, zones: Mapping[str, tzinfo]) -> list[Paged]:
    """`Paged` per person from the pages and their notifications (`zones`: each person's,
    `period.zone` for anyone missing); what the database counts on PostgreSQL."""
    notes: defaultdict[str, int] = defaultdict(int)
    received: defaultdict[str, set[int]] = defaultdict(set)
    nights: defaultdict[str, set[date]] = defaultdict(set)
    for page in pages:
        for note in page.notifications:
            if not period.holds(note.sent_at):
                continue
            assert note.sent_at is not None
            notes[note.staff] += 1
            received[note.staff].add(page.id)
            night = night_of(note.sent_at, zones.get(note.staff, period.zone))
            if night is not None:
                nights[note.staff].add(night)
    return [Paged(s, n, len(received[s]), len(nights.get(s, ()))) for s, n in notes.items()]


def cost_to_people(
    stretches: Iterable[OnCallStretch],
    pages: Iterable[PageFact],
    period: Period,
    rotations: Mapping[str, Sequence[str]],
    zones: Mapping[str, tzinfo],
    holiday: Callable[[date], bool],
    staff: Iterable[str] = (),
) -> CostFigures:
    """On-call hours, pages received and nights woken per person, and each rotation's fairness.

    `rotations`: each rotation's members; `zones`: each person's zone (`period.zone` for anyone
    missing); `holiday`: the agency's closed days; `staff`: people to list even with nothing.
    """
    return cost_of(stretches, paged(pages, period, zones), period, rotations, zones, holiday, staff)


def cost_of(
    stretches: Iterable[OnCallStretch],
    paging: Iterable[Paged],
    period: Period,
    rotations: Mapping[str, Sequence[str]],
    zones: Mapping[str, tzinfo],
    holiday: Callable[[date], bool],
    staff: Iterable[str] = (),
) -> CostFigures:
    """`cost_to_people`, the notifications already counted per person (`paging`)."""
    people: dict[str, PersonCost] = {s: PersonCost(s) for s in staff}

    def person(staff_id: str) -> PersonCost:
        return people.setdefault(staff_id, PersonCost(staff_id))

    for stretch in stretches:
        start, end = max(stretch.start, period.start), min(stretch.end, period.end)
        split = split_on_call(start, end, zones.get(stretch.staff, period.zone), holiday)
        cost = person(stretch.staff)
        for kind, length in split.items():
            cost.on_call[kind] += length
    received: dict[str, int] = {}
    for p in paging:
        cost = person(p.staff)
        cost.notifications, cost.pages_received, cost.nights_woken = (
            p.notifications,
            p.pages,
            p.nights,
        )
        received[p.staff] = p.pages
    fairness = []
    for rotation, members in rotations.items():
        counts = {m: received.get(m, 0) for m in dict.fromkeys(members)}
        mean = sum(counts.values()) / len(counts) if counts else 0
        fairness.append(Fairness(rotation, counts, max(counts.values()) / mean if mean else None))
    return CostFigures(dict(sorted(people.items())), fairness)


# ---------------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class CommitmentLine:
    """One row of the commitments export (the same columns in CSV and JSON)."""

    commitment_id: int
    conversation_id: int
    client_id: str | None
    tier: str
    channel: str
    after_hours: bool
    first_response: bool
    started_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    closed_at: datetime | None
    outcome: str
    response_seconds: float | None
    business_response_seconds: float | None
    late_by_seconds: float | None


def commitment_line(
    fact: CommitmentFact, as_of: datetime, calendars: Mapping[str, OpenTime]
) -> CommitmentLine:
    outcome = fact.outcome(as_of)
    r = response(fact, as_of, calendars)
    answered = fact.answered_by_then(as_of)
    closed = fact.closed_at
    late = None
    if outcome is Outcome.BREACHED:
        late = ((answered or as_of) - fact.due_at).total_seconds()
    return CommitmentLine(
        commitment_id=fact.id,
        conversation_id=fact.conversation_id,
        client_id=fact.client_id,
        tier=fact.tier,
        channel=fact.channel,
        after_hours=fact.after_hours,
        first_response=fact.first,
        started_at=fact.started_at,
        due_at=fact.due_at,
        answered_at=answered,
        answered_by=fact.answered_by if answered is not None else None,
        closed_at=closed if closed is not None and closed <= as_of else None,
        outcome=outcome.value,
        response_seconds=None if r.wall is None else r.wall.total_seconds(),
        business_response_seconds=None if r.business is None else r.business.total_seconds(),
        late_by_seconds=late,
    )


@dataclass(frozen=True, slots=True)
class NotificationLine:
    """One row of the page-notifications export (the same columns in CSV and JSON)."""

    notification_id: int
    page_id: int
    conversation_id: int
    client_id: str | None
    staff: str
    channel: str
    step: int
    due_at: datetime
    sent_at: datetime | None
    at_night: bool  # sent 22:00-07:00 in the person's zone
    page_opened_at: datetime
    page_acknowledged_at: datetime | None
    page_acknowledged_by: str | None
    seconds_to_acknowledge: float | None


def notification_lines(
    page: PageFact, zones: Mapping[str, tzinfo], default_zone: tzinfo
) -> list[NotificationLine]:
    ack = page.acknowledged_at
    to_ack = None if ack is None else (ack - page.opened_at).total_seconds()
    return [
        NotificationLine(
            notification_id=n.id,
            page_id=page.id,
            conversation_id=page.conversation_id,
            client_id=page.client_id,
            staff=n.staff,
            channel=n.channel,
            step=n.step,
            due_at=n.due_at,
            sent_at=n.sent_at,
            at_night=n.sent_at is not None
            and night_of(n.sent_at, zones.get(n.staff, default_zone)) is not None,
            page_opened_at=page.opened_at,
            page_acknowledged_at=ack,
            page_acknowledged_by=page.acknowledged_by,
            seconds_to_acknowledge=to_ack,
        )
        for n in page.notifications
    ]
