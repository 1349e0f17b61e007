"""Promise reports on hand-built histories, each figure checked against a naive second count.

The histories are played through routing.commitments (the real state changes and their events);
the naive counts read only the raw events and walk time minute by minute with the wall clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from routing import commitments as cm
from routing.business_hours import BusinessCalendar
from routing.reports import (
    CommitmentFact,
    Kind,
    NotificationFact,
    OnCallStretch,
    Outcome,
    OutcomeCount,
    PageFact,
    Period,
    ResponseSample,
    after_hours_figures,
    commitment_line,
    cost_to_people,
    nearest_rank,
    notification_lines,
    promise_figures,
    response_spreads,
    split_on_call,
    spread,
    summed_figures,
    week_bounds,
    weekly_trend,
)
from routing.rotations import Rotation, shifts_between

DETROIT = ZoneInfo("America/Detroit")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
HOLIDAYS = frozenset({date(2026, 12, 25)})
MINUTE = timedelta(minutes=1)
HOURS = {0: [(540, 1020)], 1: [(540, 1020)], 2: [(540, 1020)], 3: [(540, 1020)], 4: [(540, 1020)]}
OFFICE = BusinessCalendar(DETROIT, HOURS, HOLIDAYS.__contains__)
CALENDARS = {"standard": OFFICE, "priority": OFFICE}


def local(*args: int, zone: tzinfo = DETROIT) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]  # y, m, d, h, min


def naive_is_open(t: datetime) -> bool:
    wall = t.astimezone(DETROIT)
    return wall.weekday() < 5 and 9 <= wall.hour < 17 and wall.date() not in HOLIDAYS


def naive_business(a: datetime, b: datetime) -> timedelta:
    total, t = timedelta(0), a
    while t < b:
        total += MINUTE if naive_is_open(t) else timedelta(0)
        t += MINUTE
    return total


# ------------------------------------------------------------------ histories


@dataclass
class Played:
    """A commitment played through routing.commitments, with its raw events and facts."""

    commitment: cm.Commitment
    events: list[cm.Event]
    client: str
    channel: str
    answered_by: str | None
    first: bool

    def fact(self) -> CommitmentFact:
        c = self.commitment
        return CommitmentFact(
            id=c.id or 0,
            conversation_id=c.conversation_id,
            client_id=self.client,
            tier=c.tier,
            channel=self.channel,
            after_hours=c.after_hours,
            started_at=c.started_at,
            due_at=c.due_at,
            answered_at=c.answered_at,
            answered_by=self.answered_by if c.answered_at else None,
            closed_at=c.closed_at if c.answered_at is None else None,
            first=self.first,
        )


def play(
    ident: int,
    started: datetime,
    due: datetime,
    *,
    answered: datetime | None = None,
    closed: datetime | None = None,
    by: str | None = "ana",
    client: str = "acme",
    tier: str = "standard",
    channel: str = "sms",
    first: bool = True,
    conversation: int | None = None,
    as_of: datetime | None = None,
) -> Played:
    """Run the real state changes in time order up to `as_of` (default AS_OF): the breach
    timer at `due`, the answer, the close."""
    c = cm.Commitment(
        id=ident,
        conversation_id=conversation or ident,
        tier=tier,
        state=cm.State.PENDING,
        after_hours=not OFFICE.is_open(started),
        started_at=started,
        due_at=due,
        at_risk_at=due,
    )
    events = [cm.Event(cm.State.PENDING, started)]
    steps: list[tuple[datetime, Callable[..., tuple[cm.Commitment, list[cm.Event]]]]] = [
        (due, cm.falls_due)
    ]
    if answered is not None:
        steps.append((answered, cm.answer))
    if closed is not None:
        steps.append((closed, cm.close_unanswered))
    for at, step in sorted(steps, key=lambda s: s[0]):
        if at > (as_of or AS_OF):
            break
        c, new = step(c, at)
        events.extend(new)
    return Played(c, events, client, channel, by if answered else None, first)


def naive_outcome(events: list[cm.Event]) -> str:
    """From the raw events only: the last decisive state."""
    states = [str(e.state) for e in events]
    for state in ("met", "breached", "unanswered"):
        if state in states:
            return state
    return "pending"


# Monday 2026-03-02 .. Sunday 2026-03-15: the US clocks spring forward on Sunday 8 March.
MARCH = Period.of_dates(date(2026, 3, 2), date(2026, 3, 15), DETROIT)
AS_OF = local(2026, 3, 20, 12, 0)


def march_history() -> list[Played]:
    return [
        # Friday 16:00 to Monday 10:00 across the DST weekend: met, 2h of business time.
        play(1, local(2026, 3, 6, 16, 0), local(2026, 3, 9, 12, 0), answered=local(2026, 3, 9, 10)),
        # Tuesday 16:30, over a closed night, answered Wednesday 09:45: met.
        play(
            2,
            local(2026, 3, 3, 16, 30),
            local(2026, 3, 4, 12, 30),
            answered=local(2026, 3, 4, 9, 45),
            by="jim",
            channel="telegram",
        ),
        # A late answer: due Wednesday 11:00, answered 15:00: breached, with a response time.
        play(
            3,
            local(2026, 3, 4, 10, 0),
            local(2026, 3, 4, 11, 0),
            answered=local(2026, 3, 4, 15, 0),
            by="jim",
            client="globex",
            first=False,
            conversation=2,
        ),
        # Closed with no answer before its due time: unanswered.
        play(4, local(2026, 3, 5, 9, 0), local(2026, 3, 5, 13, 0), closed=local(2026, 3, 5, 9, 30)),
        # Breached, then closed unanswered: stays breached.
        play(
            5,
            local(2026, 3, 10, 9, 0),
            local(2026, 3, 10, 10, 0),
            closed=local(2026, 3, 10, 11, 0),
            client="globex",
        ),
        # After hours, Saturday night, answered Saturday: met (wall 30m, business 0).
        play(
            6,
            local(2026, 3, 7, 23, 0),
            local(2026, 3, 8, 1, 0),
            answered=local(2026, 3, 7, 23, 30),
            tier="priority",
            by="raj",
        ),
        # Still pending when the report is drawn: not decided.
        play(7, local(2026, 3, 15, 20, 0), local(2026, 3, 25, 12, 0)),
        # Started before the period: not counted.
        play(
            8, local(2026, 2, 27, 10, 0), local(2026, 2, 27, 12, 0), answered=local(2026, 3, 2, 9)
        ),
    ]


def test_outcomes_follow_the_events_the_domain_recorded() -> None:
    for played in march_history():
        assert played.fact().outcome(AS_OF).value == naive_outcome(played.events), played


def test_promise_tallies_match_a_naive_count_of_the_raw_events() -> None:
    history = march_history()
    figures = promise_figures([p.fact() for p in history], MARCH, AS_OF, CALENDARS)
    inside = [p for p in history if MARCH.start <= p.commitment.started_at < MARCH.end]
    naive = Counter(naive_outcome(p.events) for p in inside)
    total = figures.total
    assert (total.started, total.met, total.breached, total.unanswered, total.pending) == (
        len(inside),
        naive["met"],
        naive["breached"],
        naive["unanswered"],
        naive["pending"],
    )
    assert (total.met, total.breached, total.unanswered, total.pending) == (3, 2, 1, 1)
    assert total.late_answers == 1
    assert total.attainment == pytest.approx(3 / 5)
    # Per client, channel, answering person, in/after hours.
    for client in ("acme", "globex"):
        mine = Counter(naive_outcome(p.events) for p in inside if p.client == client)
        tally = figures.by_client[client]
        assert (tally.met, tally.breached, tally.unanswered) == (
            mine["met"],
            mine["breached"],
            mine["unanswered"],
        )
    assert figures.by_client["globex"].attainment == 0.0
    assert figures.by_channel["telegram"].met == 1
    assert figures.by_staff["jim"].met == 1 and figures.by_staff["jim"].breached == 1
    assert figures.by_staff[None].started == 3  # unanswered, breached-closed, pending
    assert figures.by_hours["after_hours"].started == 2  # Saturday 23:00, Sunday 20:00
    assert figures.by_tier["priority"].attainment == 1.0


def test_response_times_in_wall_clock_and_business_time() -> None:
    history = march_history()
    figures = promise_figures([p.fact() for p in history], MARCH, AS_OF, CALENDARS)
    answered = [
        p
        for p in history
        if MARCH.start <= p.commitment.started_at < MARCH.end and p.commitment.answered_at
    ]
    walls = {p.commitment.id: p.commitment.answered_at - p.commitment.started_at for p in answered}  # type: ignore[operator]  # answered
    business = {
        p.commitment.id: naive_business(p.commitment.started_at, p.commitment.answered_at)  # type: ignore[arg-type]  # answered
        for p in answered
    }
    # Across the DST weekend: 66 hours on the wall clock less the hour that never was.
    assert walls[1] == timedelta(hours=65)
    assert business[1] == timedelta(hours=2)
    # Over a closed night: 30 minutes on Tuesday, 45 on Wednesday.
    assert business[2] == timedelta(minutes=75)
    assert business[6] == timedelta(0)
    first = [i for i in walls if i != 3]
    assert figures.speed.first_wall.count == len(first) == 3
    assert figures.speed.first_wall.max == max(walls[i] for i in first)
    assert figures.speed.first_business.max == max(business[i] for i in first)
    ordered = sorted(business[i] for i in first)
    assert figures.speed.first_business.median == ordered[1]
    assert figures.speed.next_wall.count == 1
    assert figures.speed.next_wall.median == timedelta(hours=5)  # the late answer counts
    assert figures.speed.next_business.median == naive_business(
        local(2026, 3, 4, 10, 0), local(2026, 3, 4, 15, 0)
    )
    assert figures.speed_by_client["globex"].next_wall.count == 1


def test_a_holiday_is_not_business_time() -> None:
    played = play(
        9,
        local(2026, 12, 24, 16, 30),
        local(2026, 12, 28, 12, 0),
        answered=local(2026, 12, 28, 9, 15),
        as_of=local(2027, 1, 5, 0, 0),
    )
    period = Period.of_month(2026, 12, DETROIT)
    figures = promise_figures([played.fact()], period, local(2027, 1, 5, 0, 0), CALENDARS)
    expected = naive_business(local(2026, 12, 24, 16, 30), local(2026, 12, 28, 9, 15))
    assert expected == timedelta(minutes=45)
    assert figures.speed.first_business.max == expected
    assert figures.total.met == 1


def test_outcomes_are_read_as_of_the_report() -> None:
    late = play(3, local(2026, 3, 4, 10), local(2026, 3, 4, 11), answered=local(2026, 3, 4, 15))
    fact = late.fact()
    assert fact.outcome(local(2026, 3, 4, 10, 30)) is Outcome.PENDING
    assert fact.outcome(local(2026, 3, 4, 12)) is Outcome.BREACHED
    line = commitment_line(fact, local(2026, 3, 4, 12), CALENDARS)
    assert line.answered_at is None and line.late_by_seconds == 3600
    line = commitment_line(fact, AS_OF, CALENDARS)
    assert line.late_by_seconds == 4 * 3600 and line.response_seconds == 5 * 3600


def test_nearest_rank_percentiles_against_a_sorted_list() -> None:
    values = [timedelta(minutes=m) for m in (7, 1, 3, 9, 5, 2, 8, 4, 6, 10)]
    s = spread(values)
    assert (s.count, s.median, s.p90, s.max) == (
        10,
        timedelta(minutes=5),
        timedelta(minutes=9),
        timedelta(minutes=10),
    )
    assert nearest_rank([timedelta(1)], 0.9) == timedelta(1)
    assert spread([]).median is None


def test_weekly_trend_has_every_week_of_the_period() -> None:
    history = march_history()
    points = weekly_trend([p.fact() for p in history], MARCH, AS_OF, CALENDARS)
    assert [p.week for p in points] == [date(2026, 3, 2), date(2026, 3, 9)]
    # Week one: 1 met, 2 met, 3 breached, 4 unanswered, 6 met.
    assert points[0].started == 5 and points[0].attainment == pytest.approx(3 / 4)
    # Week two: 5 breached, 7 pending.
    assert points[1].started == 2 and points[1].attainment == 0.0
    assert points[0].first_p90 == timedelta(hours=65)
    assert points[1].first_p90 is None


# ------------------------------------------------------------------ after hours


def notification(ident: int, page: int, staff: str, step: int, at: datetime) -> NotificationFact:
    return NotificationFact(ident, page, staff, "sms", step, at, at)


def pages_history() -> list[PageFact]:
    opened = local(2026, 3, 7, 23, 0)
    return [
        # Acknowledged at step 3, 25 minutes in: jim, then ana, then raj were told.
        PageFact(
            1,
            10,
            "acme",
            opened,
            opened + timedelta(minutes=25),
            "raj",
            opened + timedelta(minutes=25),
            step=3,
            round=0,
            notifications=(
                notification(1, 1, "jim", 1, opened),
                notification(2, 1, "ana", 2, opened + timedelta(minutes=10)),
                notification(3, 1, "raj", 3, opened + timedelta(minutes=20)),
            ),
        ),
        # Acknowledged at step 1 after 4 minutes, in the day.
        PageFact(
            2,
            11,
            "acme",
            local(2026, 3, 10, 14, 0),
            local(2026, 3, 10, 14, 4),
            "jim",
            local(2026, 3, 10, 14, 4),
            step=1,
            round=0,
            notifications=(notification(4, 2, "jim", 1, local(2026, 3, 10, 14, 0)),),
        ),
        # Never acknowledged: resolved by a reply after going round once.
        PageFact(
            3,
            12,
            "globex",
            local(2026, 3, 11, 2, 0),
            None,
            None,
            local(2026, 3, 11, 3, 0),
            step=1,
            round=1,
            notifications=(
                notification(5, 3, "jim", 1, local(2026, 3, 11, 2, 0)),
                notification(6, 3, "jim", 1, local(2026, 3, 11, 2, 30)),
            ),
        ),
        # Still open when the report is drawn.
        PageFact(4, 13, "globex", local(2026, 3, 15, 23, 0), None, None, None, step=1, round=0),
    ]


def test_after_hours_figures_against_the_raw_pages() -> None:
    pages = pages_history()
    acks = [local(2026, 3, 7, 23, 0), local(2026, 3, 8, 2, 0), local(2026, 2, 1, 2, 0)]
    figures = after_hours_figures(pages, acks, MARCH, AS_OF)
    assert figures.acknowledgements == 2
    assert figures.pages_opened == 4
    waits = sorted(p.acknowledged_at - p.opened_at for p in pages if p.acknowledged_at)
    assert figures.time_to_acknowledge.count == len(waits) == 2
    assert figures.time_to_acknowledge.median == waits[0] == timedelta(minutes=4)
    assert figures.time_to_acknowledge.p90 == waits[1] == timedelta(minutes=25)
    assert figures.reached_step_2 == 2  # step 3, and the one that went round again
    assert figures.never_acknowledged == 2 and figures.still_open == 1
    assert figures.acknowledged_at_step == {1: 1, 3: 1}


def test_notification_lines_mark_the_night() -> None:
    page = pages_history()[0]
    lines = notification_lines(page, {"jim": TOKYO}, DETROIT)
    assert [line.step for line in lines] == [1, 2, 3]
    assert [line.at_night for line in lines] == [False, True, True]  # 13:00 in Tokyo is day
    assert lines[0].seconds_to_acknowledge == 25 * 60


# ------------------------------------------------------------------ cost to people


def naive_split(
    start: datetime, end: datetime, zone: tzinfo, holidays: frozenset[date]
) -> dict[Kind, timedelta]:
    out = dict.fromkeys(Kind, timedelta(0))
    t = start
    while t < end:
        wall = t.astimezone(zone)
        if wall.hour >= 22 or wall.hour < 7:
            kind = Kind.NIGHT
        elif wall.date() in holidays:
            kind = Kind.HOLIDAY
        elif wall.weekday() >= 5:
            kind = Kind.WEEKEND
        else:
            kind = Kind.WEEKDAY
        out[kind] += MINUTE
        t += MINUTE
    return out


def test_on_call_split_across_a_dst_weekend_matches_a_minute_walk() -> None:
    start, end = local(2026, 3, 6, 9, 0), local(2026, 3, 9, 9, 0)
    split = split_on_call(start, end, DETROIT, HOLIDAYS.__contains__)
    assert split == naive_split(start, end, DETROIT, HOLIDAYS)
    assert sum(split.values(), timedelta(0)) == timedelta(hours=71)  # an hour went missing
    assert split[Kind.NIGHT] == timedelta(hours=9 * 3 - 1)


def test_on_call_split_with_a_holiday_in_another_zone() -> None:
    start, end = local(2026, 12, 24, 12, 0), local(2026, 12, 28, 12, 0)
    holidays = frozenset({date(2026, 12, 25)})
    split = split_on_call(start, end, LONDON, holidays.__contains__)
    assert split == naive_split(start, end, LONDON, holidays)
    assert split[Kind.HOLIDAY] == timedelta(hours=15)


def test_cost_to_people_from_a_real_rotation() -> None:
    rotation = Rotation(
        id="primary",
        members=("jim", "ana", "raj"),
        start=datetime(2026, 3, 2, 9, 0),
        tz=DETROIT,
        shift=timedelta(days=3),
    )
    periods = shifts_between(rotation, MARCH.start, MARCH.end)
    stretches = [OnCallStretch("primary", p.staff, p.start, p.end) for p in periods]
    zones: dict[str, tzinfo] = {"raj": LONDON}
    figures = cost_to_people(
        stretches,
        pages_history(),
        MARCH,
        {"primary": rotation.members},
        zones,
        HOLIDAYS.__contains__,
        staff=("jim", "ana", "raj", "zoe"),
    )
    for person in ("jim", "ana", "raj"):
        naive = dict.fromkeys(Kind, timedelta(0))
        for s in stretches:
            if s.staff == person:
                for kind, length in naive_split(
                    s.start, s.end, zones.get(person, DETROIT), HOLIDAYS
                ).items():
                    naive[kind] += length
        assert figures.people[person].on_call == naive, person
    total = sum((p.on_call_total for p in figures.people.values()), timedelta(0))
    # Every second from the first handoff on is someone's, once.
    assert total == MARCH.end - local(2026, 3, 2, 9, 0)
    assert figures.people["zoe"].on_call_total == timedelta(0)
    jim = figures.people["jim"]
    # Pages 1, 2, 3 reached jim; 3 twice in one night, page 1 at 23:00: two nights woken.
    assert (jim.pages_received, jim.notifications, jim.nights_woken) == (3, 4, 2)
    assert figures.people["raj"].nights_woken == 1  # 23:20 in Detroit is 04:20 in London
    assert figures.people["ana"].nights_woken == 1
    (fairness,) = figures.fairness
    assert fairness.pages == {"jim": 3, "ana": 1, "raj": 1}
    assert fairness.ratio == pytest.approx(3 / (5 / 3))


def test_fairness_is_none_when_nobody_was_paged() -> None:
    figures = cost_to_people([], [], MARCH, {"r": ("a", "b")}, {}, HOLIDAYS.__contains__)
    assert figures.fairness[0].ratio is None


# ------------------------------------------------------------------ summed by the database


def test_figures_summed_by_group_equal_the_figures_row_by_row() -> None:
    """What the database sums (routing.reports.OutcomeCount, ResponseSample) gives the same
    promise figures and weekly trend as reading each commitment, counted here by hand."""
    facts = [p.fact() for p in march_history()]
    bounds = week_bounds(MARCH)
    assert bounds == [local(2026, 3, 9, 0, 0)]  # the second Monday, after the DST change
    groups: Counter[tuple[object, ...]] = Counter()
    samples = []
    for f in facts:
        if not MARCH.holds(f.started_at):
            continue
        week = sum(1 for b in bounds if f.started_at >= b)
        answered = f.answered_at is not None and f.answered_at <= AS_OF
        outcome = f.outcome(AS_OF)
        late = outcome is Outcome.BREACHED and answered
        staff = f.answered_by if answered else None
        key = (f.client_id, f.tier, f.channel, staff, f.after_hours, week, outcome, late)
        groups[key] += 1
        if answered:
            assert f.answered_at is not None
            business = OFFICE.between(f.started_at, f.answered_at)
            samples.append(
                ResponseSample(f.first, f.client_id, week, f.answered_at - f.started_at, business)
            )
    counts = [OutcomeCount(*key, n) for key, n in groups.items()]  # type: ignore[arg-type]
    figures, trend = summed_figures(counts, response_spreads(samples), MARCH)
    assert figures == promise_figures(facts, MARCH, AS_OF, CALENDARS)
    assert trend == weekly_trend(facts, MARCH, AS_OF, CALENDARS)
    every = response_spreads(samples).every
    assert every[0] == spread(s.wall for s in samples)
    assert every[0].count == 4  # 1, 2, 3 (late) and 6; 8 started before the period


def test_acknowledgements_counted_by_the_database_count_as_the_times_do() -> None:
    pages = pages_history()
    acks = [local(2026, 3, 7, 23, 0), local(2026, 3, 8, 2, 0), local(2026, 2, 1, 2, 0)]
    by_times = after_hours_figures(pages, acks, MARCH, AS_OF)
    assert after_hours_figures(pages, 2, MARCH, AS_OF) == by_times
