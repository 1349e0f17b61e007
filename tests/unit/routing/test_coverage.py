"""Coverage gaps: when a client's message would page nobody, why, and for whom."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import escalation as esc
from routing.business_hours import BusinessCalendar
from routing.commitments_policy import CommitmentPolicy, should_page
from routing.coverage import CoveredClient, Gap, coverage_gaps
from routing.rotations import Override, Rotation

DETROIT = ZoneInfo("America/Detroit")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
H = timedelta(hours=1)
WEEKDAYS = range(5)
RULES = (esc.NotifyRule("sms", timedelta(0)),)


def calendar(
    tz: ZoneInfo, opens: int, closes: int, days: Sequence[int] = WEEKDAYS
) -> BusinessCalendar:
    """Open `opens`:00 to `closes`:00 local on `days` (Monday = 0)."""
    return BusinessCalendar(tz, {d: [(opens * 60, closes * 60)] for d in days})


def tier(hours: BusinessCalendar, page_oncall: str = "after_hours") -> CommitmentPolicy:
    return CommitmentPolicy(
        business=30 * timedelta(minutes=1),
        after_hours=H,
        at_risk=0.75,
        page_oncall=page_oncall,  # type: ignore[arg-type]
        calendar=hours,
    )


def policy(
    *steps: Sequence[str],
    account_team: Sequence[str] = (),
    unreachable: Sequence[str] = (),
    name: str = "default",
) -> esc.Policy:
    """Everyone named anywhere can be notified, except `unreachable` (no notify rule)."""
    staff = {"jim", "ana", "raj", "kim", *account_team}
    notify = {s: (() if s in unreachable else RULES) for s in staff}
    return esc.Policy(
        name=name,
        steps=tuple(esc.Step(tuple(targets), timedelta(minutes=10)) for targets in steps),
        repeat=0,
        account_team=tuple(account_team),
        notify=notify,
    )


def nights(
    hours: BusinessCalendar | None,
    members: Sequence[str] = ("jim", "ana", "raj"),
    tz: ZoneInfo = DETROIT,
    start: datetime = datetime(2026, 1, 5, 9, 0),
    shift: timedelta = timedelta(weeks=1),
) -> Rotation:
    return Rotation(
        id="nights",
        members=tuple(members),
        start=start,
        tz=tz,
        shift=shift,
        hours=hours,
        only_after_hours=hours is not None,
    )


def local(
    tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


def spans(gaps: Sequence[Gap]) -> list[tuple[datetime, datetime]]:
    return [(g.start, g.end) for g in gaps]


def brute_force(
    clients: Sequence[CoveredClient],
    rotations: dict[str, Rotation],
    start: datetime,
    end: datetime,
    step: timedelta,
    overrides: Sequence[Override] = (),
) -> set[tuple[datetime, str]]:
    """(instant, client) pairs paging nobody, asked instant by instant as the worker would."""
    out = set()
    t = start
    while t < end:
        who = esc.on_call_lookup(rotations, t, overrides)
        for client in clients:
            after_hours = not client.commitment.calendar.is_open(t)
            if not should_page(client.commitment, after_hours):
                continue
            p = client.escalation
            reached = p is not None and any(
                p.notify.get(person)
                for s in p.steps
                for person in esc.resolve_targets(s.targets, p.account_team, who)
            )
            if not reached:
                out.add((t, client.id))
        t += step
    return out


def covered_by_gaps(
    gaps: Sequence[Gap], start: datetime, end: datetime, step: timedelta
) -> set[tuple[datetime, str]]:
    out: set[tuple[datetime, str]] = set()
    t = start
    while t < end:
        for g in gaps:
            if g.start <= t < g.end:
                out.update((t, c) for c in g.clients)
        t += step
    return out


# ---------------------------------------------------------------------------- the three causes


def test_a_calendar_closed_with_no_after_hours_rotation_is_a_gap_every_evening() -> None:
    # The office closes at 17:00, the evening rotation takes over only when *its* hours
    # (09:00-20:00) close: 17:00-20:00 on every weekday nobody is on call.
    office, evening = calendar(DETROIT, 9, 17), calendar(DETROIT, 9, 20)
    clients = [CoveredClient("acme", tier(office), policy(["rotation:nights"]))]
    start, end = local(DETROIT, 2026, 3, 2), local(DETROIT, 2026, 3, 7)  # Monday to Saturday
    gaps = coverage_gaps(clients, {"nights": nights(evening)}, start, end)
    assert spans(gaps) == [
        (local(DETROIT, 2026, 3, day, 17), local(DETROIT, 2026, 3, day, 20)) for day in range(2, 7)
    ]
    assert {g.clients for g in gaps} == {("acme",)}
    assert {g.escalation for g in gaps} == {"default"}
    assert {g.rotations for g in gaps} == {("nights",)}
    assert gaps[0].reason == (
        "nobody to page: rotation 'nights' is on call only after hours, and its calendar is open"
    )


def test_an_empty_rotation_step_is_a_gap_until_the_rotation_starts() -> None:
    office = calendar(DETROIT, 9, 17, days=range(7))
    rotation = nights(None, start=datetime(2026, 3, 4, 9, 0))  # ordinary: always someone
    clients = [CoveredClient("acme", tier(office, "always"), policy(["rotation:nights"]))]
    start, end = local(DETROIT, 2026, 3, 1), local(DETROIT, 2026, 3, 10)
    gaps = coverage_gaps(clients, {"nights": rotation}, start, end)
    assert spans(gaps) == [(start, local(DETROIT, 2026, 3, 4, 9))]
    assert gaps[0].reason == "nobody to page: rotation 'nights' has not started yet"


def test_a_later_step_that_reaches_someone_closes_the_gap() -> None:
    # The live worker passes an empty step on at once: the page still reaches step 2.
    office, evening = calendar(DETROIT, 9, 17), calendar(DETROIT, 9, 20)
    clients = [
        CoveredClient(
            "acme",
            tier(office),
            policy(["rotation:nights"], ["account_team"], account_team=["kim"]),
        )
    ]
    start, end = local(DETROIT, 2026, 3, 2), local(DETROIT, 2026, 3, 7)
    assert coverage_gaps(clients, {"nights": nights(evening)}, start, end) == []


def test_steps_of_people_without_notify_rules_and_an_empty_account_team_are_gaps() -> None:
    office = calendar(DETROIT, 9, 17)
    chain = policy(["staff:raj"], ["account_team"], unreachable=["raj"])
    clients = [CoveredClient("acme", tier(office), chain)]
    start, end = local(DETROIT, 2026, 3, 2, 12), local(DETROIT, 2026, 3, 3, 12)
    gaps = coverage_gaps(clients, {}, start, end)
    assert spans(gaps) == [(local(DETROIT, 2026, 3, 2, 17), local(DETROIT, 2026, 3, 3, 9))]
    assert gaps[0].reason == (
        "nobody to page: 'raj', who has no notify rule; the client has no account team"
    )
    assert gaps[0].rotations == ()


def test_a_rotation_whose_members_are_all_overridden_away_is_a_gap_for_the_override() -> None:
    # Nights are covered by jim, ana and raj in turn; an override hands three nights to
    # someone who cannot be notified (no longer on the staff list), so they are uncovered.
    office = calendar(DETROIT, 9, 17, days=range(7))
    rotation = nights(office, start=datetime(2026, 3, 2, 9, 0), shift=timedelta(days=1))
    o_start, o_end = local(DETROIT, 2026, 3, 3, 12), local(DETROIT, 2026, 3, 6, 12)
    overrides = [Override(7, "nights", "gone", o_start, o_end)]
    clients = [CoveredClient("acme", tier(office), policy(["rotation:nights"]))]
    start, end = local(DETROIT, 2026, 3, 2, 12), local(DETROIT, 2026, 3, 9)
    gaps = coverage_gaps(clients, {"nights": rotation}, start, end, overrides)
    # The client pages only while the office is closed: the override's three nights.
    assert spans(gaps) == [
        (local(DETROIT, 2026, 3, day, 17), local(DETROIT, 2026, 3, day + 1, 9)) for day in (3, 4, 5)
    ]
    assert gaps[0].reason == (
        "nobody to page: rotation 'nights' is overridden to 'gone', who is not on the staff list"
    )
    # Without the override nobody is missing.
    assert coverage_gaps(clients, {"nights": rotation}, start, end) == []


def test_an_override_to_someone_reachable_fills_a_gap() -> None:
    office, evening = calendar(DETROIT, 9, 17), calendar(DETROIT, 9, 20)
    clients = [CoveredClient("acme", tier(office), policy(["rotation:nights"]))]
    start, end = local(DETROIT, 2026, 3, 2), local(DETROIT, 2026, 3, 3)
    fill = Override(
        1, "nights", "kim", local(DETROIT, 2026, 3, 2, 16), local(DETROIT, 2026, 3, 2, 19)
    )
    gaps = coverage_gaps(clients, {"nights": nights(evening)}, start, end, [fill])
    assert spans(gaps) == [(local(DETROIT, 2026, 3, 2, 19), local(DETROIT, 2026, 3, 2, 20))]


def test_a_client_whose_tier_pages_without_an_escalation_is_uncovered_after_hours() -> None:
    office = calendar(DETROIT, 9, 17)
    clients = [CoveredClient("acme", tier(office), None)]
    start, end = local(DETROIT, 2026, 3, 2, 12), local(DETROIT, 2026, 3, 3, 12)
    gaps = coverage_gaps(clients, {}, start, end)
    assert spans(gaps) == [(local(DETROIT, 2026, 3, 2, 17), local(DETROIT, 2026, 3, 3, 9))]
    assert gaps[0].escalation is None
    assert "no escalation policy" in gaps[0].reason


# ---------------------------------------------------------------------------- calendars


def test_a_tier_whose_calendar_never_opens_pages_all_the_time() -> None:
    never_open = BusinessCalendar(DETROIT, {})
    always_open = calendar(DETROIT, 0, 24, days=range(7))
    clients = [CoveredClient("acme", tier(never_open), policy(["rotation:nights"]))]
    start, end = local(DETROIT, 2026, 3, 1), local(DETROIT, 2026, 6, 1)
    # An after-hours rotation on a calendar that never closes: one gap, the whole range.
    gaps = coverage_gaps(clients, {"nights": nights(always_open)}, start, end)
    assert spans(gaps) == [(start, end)]
    # An after-hours rotation on a calendar that never opens is on call all the time.
    assert coverage_gaps(clients, {"nights": nights(never_open)}, start, end) == []


def test_a_tier_whose_calendar_never_closes_never_pages_after_hours() -> None:
    always_open = calendar(DETROIT, 0, 24, days=range(7))
    clients = [CoveredClient("acme", tier(always_open), policy(["rotation:nights"]))]
    start, end = local(DETROIT, 2026, 3, 1), local(DETROIT, 2026, 6, 1)
    assert coverage_gaps(clients, {"nights": nights(always_open)}, start, end) == []
    # ...but a tier that pages always does, and then the never-closing rotation is no help.
    always = [CoveredClient("acme", tier(always_open, "always"), policy(["rotation:nights"]))]
    assert spans(coverage_gaps(always, {"nights": nights(always_open)}, start, end)) == [
        (start, end)
    ]


def test_a_tier_that_never_pages_has_no_gaps() -> None:
    office = calendar(DETROIT, 9, 17)
    clients = [CoveredClient("acme", tier(office, "never"), None)]
    assert coverage_gaps(clients, {}, local(DETROIT, 2026, 3, 1), local(DETROIT, 2026, 6, 1)) == []


# ---------------------------------------------------------------------------- rotations


def test_a_one_person_rotation_without_a_way_to_reach_them_is_one_gap() -> None:
    office = calendar(DETROIT, 9, 17)
    rotation = nights(None, members=("jim",))
    start, end = local(DETROIT, 2026, 3, 1), local(DETROIT, 2026, 6, 1)
    reachable = [CoveredClient("acme", tier(office, "always"), policy(["rotation:nights+1"]))]
    assert coverage_gaps(reachable, {"nights": rotation}, start, end) == []
    chain = policy(["rotation:nights"], ["rotation:nights+1"], unreachable=["jim"])
    clients = [CoveredClient("acme", tier(office, "always"), chain)]
    gaps = coverage_gaps(clients, {"nights": rotation}, start, end)
    assert spans(gaps) == [(start, end)]
    assert gaps[0].reason == (
        "nobody to page: on call for rotation 'nights': 'jim', who has no notify rule; "
        "on call for rotation 'nights+1': 'jim', who has no notify rule"
    )


def test_clients_sharing_an_escalation_share_a_gap_and_it_splits_where_they_differ() -> None:
    office, late_office, evening = (
        calendar(DETROIT, 9, 17),
        calendar(DETROIT, 9, 18),
        calendar(DETROIT, 9, 20),
    )
    chain = policy(["rotation:nights"])
    clients = [
        CoveredClient("acme", tier(office), chain),
        CoveredClient("thames", tier(late_office), chain),
        CoveredClient("bakery", tier(office, "never"), chain),
    ]
    start, end = local(DETROIT, 2026, 3, 2, 12), local(DETROIT, 2026, 3, 3, 0)
    gaps = coverage_gaps(clients, {"nights": nights(evening)}, start, end)
    assert [(g.start, g.end, g.clients) for g in gaps] == [
        (local(DETROIT, 2026, 3, 2, 17), local(DETROIT, 2026, 3, 2, 18), ("acme",)),
        (local(DETROIT, 2026, 3, 2, 18), local(DETROIT, 2026, 3, 2, 20), ("acme", "thames")),
    ]


# ---------------------------------------------------------------------------- zones and DST


@pytest.mark.parametrize("tz", [SYDNEY, KOLKATA, DETROIT], ids=["east+10", "east+5:30", "west"])
def test_gaps_follow_the_local_evening_east_and_west_of_utc(tz: ZoneInfo) -> None:
    office, evening = calendar(tz, 9, 17), calendar(tz, 9, 20)
    clients = [CoveredClient("acme", tier(office), policy(["rotation:nights"]))]
    start, end = local(tz, 2026, 3, 3), local(tz, 2026, 3, 5)  # Tuesday and Wednesday
    gaps = coverage_gaps(clients, {"nights": nights(evening, tz=tz)}, start, end)
    assert spans(gaps) == [
        (local(tz, 2026, 3, 3, 17), local(tz, 2026, 3, 3, 20)),
        (local(tz, 2026, 3, 4, 17), local(tz, 2026, 3, 4, 20)),
    ]
    assert all(g.start.tzinfo is UTC for g in gaps)


def test_gaps_keep_to_local_time_across_a_clock_change() -> None:
    # Detroit falls back on Sunday 2026-11-01: 17:00-20:00 local is 21:00-00:00 UTC on the
    # Friday before and 22:00-01:00 UTC on the Monday after.
    office, evening = calendar(DETROIT, 9, 17), calendar(DETROIT, 9, 20)
    clients = [CoveredClient("acme", tier(office), policy(["rotation:nights"]))]
    start, end = datetime(2026, 10, 30, 12, tzinfo=UTC), datetime(2026, 11, 3, 12, tzinfo=UTC)
    gaps = coverage_gaps(clients, {"nights": nights(evening)}, start, end)
    assert spans(gaps) == [
        (datetime(2026, 10, 30, 21, tzinfo=UTC), datetime(2026, 10, 31, 0, tzinfo=UTC)),
        (datetime(2026, 11, 2, 22, tzinfo=UTC), datetime(2026, 11, 3, 1, tzinfo=UTC)),
    ]


def test_a_handoff_inside_a_gap_splits_it_as_the_reason_names_the_person() -> None:
    # Daily 18:00 handoffs of an after-hours rotation whose members all lack a way to be
    # reached: the gap runs on, but its reason names who is on call.
    office = calendar(DETROIT, 9, 17)
    rotation = nights(office, start=datetime(2026, 3, 1, 18, 0), shift=timedelta(days=1))
    chain = policy(["rotation:nights"], unreachable=["jim", "ana", "raj"])
    clients = [CoveredClient("acme", tier(office), chain)]
    start, end = local(DETROIT, 2026, 3, 2, 12), local(DETROIT, 2026, 3, 3, 12)
    gaps = coverage_gaps(clients, {"nights": rotation}, start, end)
    # The reason names the person on call, so it changes at 18:00.
    assert spans(gaps) == [
        (local(DETROIT, 2026, 3, 2, 17), local(DETROIT, 2026, 3, 2, 18)),
        (local(DETROIT, 2026, 3, 2, 18), local(DETROIT, 2026, 3, 3, 9)),
    ]
    assert "'jim'" in gaps[0].reason and "'ana'" in gaps[1].reason


# ---------------------------------------------------------------------------- against the worker


def test_gaps_are_exactly_the_instants_the_worker_would_page_nobody() -> None:
    office, evening = calendar(DETROIT, 9, 17), calendar(DETROIT, 8, 19, days=range(6))
    rotations = {
        "nights": nights(evening, start=datetime(2026, 10, 26, 9), shift=timedelta(hours=30)),
        "lead": Rotation("lead", ("kim", "raj"), datetime(2026, 10, 28, 0), DETROIT, 2 * H * 24),
    }
    overrides = [
        Override(
            1, "nights", "gone", local(DETROIT, 2026, 10, 29, 18), local(DETROIT, 2026, 10, 30, 3)
        ),
        Override(2, "lead", "ana", local(DETROIT, 2026, 10, 31, 1), local(DETROIT, 2026, 11, 1, 9)),
    ]
    clients = [
        CoveredClient(
            "acme",
            tier(office),
            policy(["rotation:nights"], ["rotation:lead+1"], unreachable=["ana"]),
        ),
        CoveredClient(
            "thames", tier(office, "always"), policy(["rotation:nights"], unreachable=["raj"])
        ),
        CoveredClient("plain", tier(evening), policy(["rotation:lead"], unreachable=["kim"])),
        # "+1" changes at every handoff, even one inside the rotation's business hours.
        CoveredClient(
            "next", tier(office, "always"), policy(["rotation:nights+1"], unreachable=["jim"])
        ),
    ]
    start, end = local(DETROIT, 2026, 10, 26, 0, 7), local(DETROIT, 2026, 11, 4)
    gaps = coverage_gaps(clients, rotations, start, end, overrides)
    step = timedelta(minutes=15)
    expected = brute_force(clients, rotations, start, end, step, overrides)
    assert expected  # the configuration does leave gaps
    assert covered_by_gaps(gaps, start, end, step) == expected
    # Merged: no two gaps of one escalation, reason and clients touch.
    for a, b in itertools.pairwise(gaps):
        same = (a.escalation, a.reason, a.clients) == (b.escalation, b.reason, b.clients)
        assert not (same and a.end == b.start)


# ---------------------------------------------------------------------------- any configuration

ZONES = [DETROIT, SYDNEY, KOLKATA, ZoneInfo("Europe/London")]
STAFF = ("jim", "ana", "raj", "kim")


@st.composite
def configurations(
    draw: st.DrawFn,
) -> tuple[list[CoveredClient], dict[str, Rotation], list[Override]]:
    zone = draw(st.sampled_from(ZONES))
    calendars = [
        calendar(zone, 9, 17),
        calendar(zone, 8, 20, days=range(6)),
        BusinessCalendar(zone, {d: [(540, 720), (780, 1050)] for d in range(5)}),
        BusinessCalendar(zone, {}),
        calendar(zone, 0, 24, days=range(7)),
    ]
    rotations: dict[str, Rotation] = {}
    for n in range(draw(st.integers(1, 3))):
        after_hours = draw(st.booleans())
        rotations[f"r{n}"] = Rotation(
            id=f"r{n}",
            members=tuple(draw(st.lists(st.sampled_from(STAFF), min_size=1, max_size=3))),
            start=datetime(2026, 10, 20) + timedelta(hours=draw(st.integers(0, 24 * 20))),
            tz=zone,
            shift=draw(st.sampled_from([8 * H, 12 * H, 24 * H, 30 * H, 7 * 24 * H])),
            hours=draw(st.sampled_from(calendars)) if after_hours else None,
            only_after_hours=after_hours,
        )
    base = datetime(2026, 10, 25, tzinfo=UTC)
    overrides = []
    for n in range(draw(st.integers(0, 3))):
        begins = base + timedelta(hours=draw(st.integers(0, 24 * 12)))
        overrides.append(
            Override(
                n + 1,
                draw(st.sampled_from(sorted(rotations))),
                draw(st.sampled_from((*STAFF, "gone"))),
                begins,
                begins + timedelta(hours=draw(st.integers(1, 72))),
            )
        )
    targets = st.sampled_from(
        [
            *(f"rotation:{r}" for r in rotations),
            *(f"rotation:{r}+1" for r in rotations),
            "staff:kim",
            "account_team",
            "rotation:missing",
        ]
    )
    clients = []
    for n in range(draw(st.integers(1, 3))):
        steps = draw(st.lists(st.lists(targets, min_size=1, max_size=2), min_size=1, max_size=3))
        chain = policy(
            *steps,
            account_team=draw(st.lists(st.sampled_from(STAFF), max_size=2, unique=True)),
            unreachable=draw(st.lists(st.sampled_from(STAFF), max_size=3)),
            name=f"e{n}",
        )
        page = draw(st.sampled_from(["after_hours", "always", "never"]))
        commitment = tier(draw(st.sampled_from(calendars)), page)
        clients.append(
            CoveredClient(f"c{n}", commitment, chain if draw(st.booleans()) or n else None)
        )
    return clients, rotations, overrides


@settings(max_examples=60, deadline=None)
@given(configurations(), st.lists(st.integers(0, 14 * 24 * 3600 - 1), min_size=20, max_size=20))
def test_for_any_configuration_an_instant_is_in_a_gap_exactly_when_the_worker_pages_nobody(
    config: tuple[list[CoveredClient], dict[str, Rotation], list[Override]], seconds: list[int]
) -> None:
    clients, rotations, overrides = config
    start = datetime(2026, 10, 26, 3, 17, tzinfo=UTC)
    end = start + timedelta(days=14)
    gaps = coverage_gaps(clients, rotations, start, end, overrides)
    for a, b in itertools.pairwise(gaps):
        assert a.start <= b.start
    for gap in gaps:
        assert start <= gap.start < gap.end <= end and gap.clients and gap.reason
    for s in seconds:
        t = start + timedelta(seconds=s)
        expected = brute_force(clients, rotations, t, t + timedelta(seconds=1), H, overrides)
        assert covered_by_gaps(gaps, t, t + timedelta(seconds=1), H) == expected, t
