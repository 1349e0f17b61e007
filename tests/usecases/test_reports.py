"""Promise reports over a history made through the real use cases (bot.usecases.reports):
what storage/reports.py reads back agrees with the repositories' own per-conversation history,
and the figures come out as the story says."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from bot.usecases.reports import ReportService, Scope, scope_for
from bot.usecases.services import Author
from routing.errors import DomainError, NotFound
from routing.reports import Kind, Period
from storage.reports import ReportReader
from storage.tables import CommitmentRow
from storage.unit_of_work import UnitOfWork
from tests.usecases.rig import ANA_AUTHOR, DANA, DETROIT, LUCY, TUESDAY_EVENING, Rig

JIM_AUTHOR = Author(id="jim", name="Jim Miller")
KIM = "kim"


def make_history(rig: Rig) -> dict[str, int]:
    """Tuesday evening: Dana (Acme, priority) writes after hours; she is acknowledged, Raj is
    paged, then Jim, then Kim, who acknowledges at step 3; Ana answers in time.
    Wednesday: Lucy (Brightside, standard, 4 business hours) writes at 11:00 and Jim answers
    late at 16:00; she writes again at 16:30 and Ana closes the conversation unanswered."""
    rig.clock.set(TUESDAY_EVENING)
    dana = rig.client_writes(DANA, "Our statement has a typo!")
    for seconds in (3, 6):
        rig.advance_to(TUESDAY_EVENING + timedelta(seconds=seconds))
    page = rig.page_of(dana)
    assert page is not None and page.step == 3
    rig.clock.set(TUESDAY_EVENING + timedelta(seconds=8))
    rig.services.acknowledge(page.id, KIM, via="test")
    rig.advance_to(TUESDAY_EVENING + timedelta(minutes=20))
    rig.services.reply(dana, "Fixed, see the new PDF.", ANA_AUTHOR)
    rig.run_worker()

    wednesday = datetime(2026, 12, 9, 11, 0, tzinfo=DETROIT)
    rig.advance_to(wednesday)
    lucy = rig.client_writes(LUCY, "Can we move the tasting?")
    rig.advance_to(wednesday.replace(hour=16))
    rig.services.reply(lucy, "Yes, Friday works.", JIM_AUTHOR)
    rig.advance_to(wednesday.replace(hour=16, minute=30))
    assert rig.client_writes(LUCY, "Great, and the cake?") == lucy
    rig.advance_to(wednesday.replace(hour=16, minute=40))
    rig.services.close(lucy, ANA_AUTHOR)
    rig.advance_to(datetime(2026, 12, 10, 9, 0, tzinfo=DETROIT))
    return {"dana": dana, "lucy": lucy, "page": page.id}


def service(rig: Rig) -> ReportService:
    db = rig.container.db
    return ReportService(rig.container.directory, lambda: UnitOfWork(db, read_only=True), rig.clock)


WEEK = Period.of_dates(datetime(2026, 12, 7).date(), datetime(2026, 12, 13).date(), DETROIT)


def test_the_reader_agrees_with_each_conversations_own_history(rig: Rig) -> None:
    ids = make_history(rig)
    with rig.services.uow() as uow:
        facts = ReportReader(uow.session).commitments(WEEK.start, WEEK.end)
    naive = [c for conv in (ids["dana"], ids["lucy"]) for c, _ in rig.commitments(conv)]
    assert sorted(f.id for f in facts) == sorted(c.id for c in naive if c.id is not None)
    by_id = {f.id: f for f in facts}
    for c in naive:
        assert c.id is not None
        fact = by_id[c.id]
        assert (fact.started_at, fact.due_at, fact.answered_at) == (
            c.started_at,
            c.due_at,
            c.answered_at,
        )
        assert fact.after_hours == c.after_hours
    firsts = sorted((f.conversation_id, f.first) for f in facts)
    assert firsts == sorted([(ids["dana"], True), (ids["lucy"], True), (ids["lucy"], False)])
    assert {f.answered_by for f in facts} == {"ana", "jim", None}


def test_the_report_of_the_week(rig: Rig) -> None:
    ids = make_history(rig)
    report = service(rig).report(WEEK)
    total = report.promises.total
    assert (total.started, total.met, total.breached, total.unanswered) == (3, 1, 1, 1)
    assert total.late_answers == 1 and total.attainment == 0.5
    assert report.promises.by_client["acme"].attainment == 1.0
    assert report.promises.by_client["brightside"].attainment == 0.0
    assert report.promises.by_staff["jim"].breached == 1
    assert report.promises.by_hours["after_hours"].met == 1
    speed = report.promises.speed
    assert speed.first_wall.count == 2 and speed.next_wall.count == 0
    # Jim's late answer: five hours on the clock, five of business time.
    assert speed.first_wall.max == timedelta(hours=5)
    assert speed.first_business.max == timedelta(hours=5)
    # Dana's after-hours message: 20 minutes on the clock, none of business time.
    assert speed.first_business.median == timedelta(0)
    after = report.after_hours
    assert after.acknowledgements == 1 and after.pages_opened == 1
    assert after.acknowledged_at_step == {3: 1}
    assert after.time_to_acknowledge.median == timedelta(seconds=8)
    assert after.reached_step_2 == 1 and after.never_acknowledged == 0
    # Raj, Jim and Kim were paged; Tuesday 19:05 is not night.
    people = report.cost.people
    assert [people[s].pages_received for s in ("raj", "jim", "kim", "ana")] == [1, 1, 1, 0]
    assert people["raj"].nights_woken == 0
    # Kim (leadership, always on call) holds the whole week from Monday 00:00.
    assert people["kim"].on_call_total == WEEK.end - WEEK.start
    assert people["kim"].on_call[Kind.NIGHT] == timedelta(hours=9 * 7)
    # The after-hours rotation: Raj this week, only while the office is closed.
    assert people["raj"].on_call_total > timedelta(hours=100)
    # Weekdays 07:00-22:00 outside office hours, from the Monday 09:00 handoff: Monday's
    # lunch and evening (5.5h), Tuesday to Thursday (6.5h each), Friday (8h).
    assert people["raj"].on_call[Kind.WEEKDAY] == timedelta(hours=33)
    assert people["jim"].notifications == 2  # an SMS, and a call a second later
    fairness = {f.rotation: f for f in report.cost.fairness}
    assert fairness["after-hours"].pages == {"jim": 1, "ana": 0, "raj": 1}
    assert fairness["after-hours"].ratio == pytest.approx(1.5)
    assert [p.started for p in report.trend] == [3]
    assert ids["page"] > 0


def test_a_staff_member_sees_their_clients_and_their_own_cost(rig: Rig) -> None:
    make_history(rig)
    reports = service(rig)
    scope = scope_for(rig.container.directory, "raj", is_admin=False)
    assert scope == Scope(clients=frozenset({"brightside"}), staff="raj")
    report = reports.report(WEEK, scope)
    assert set(report.promises.by_client) == {"brightside"}
    assert report.after_hours.pages_opened == 0
    assert list(report.cost.people) == ["raj"]
    assert scope_for(rig.container.directory, "raj", is_admin=True).everything


def test_reads_are_a_bounded_number_of_queries(rig: Rig) -> None:
    make_history(rig)
    for _ in range(3):  # more history: the number of queries stays the same
        rig.advance_to(rig.clock.now() + timedelta(hours=1))
        rig.client_writes(DANA, "Another thing")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = rig.container.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        service(rig).report(WEEK)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    # The commitments summed and their response times (one statement on PostgreSQL), pages,
    # notifications, acknowledgements, staff zones, and the overrides of each of the two
    # rotations.
    assert len(selects) == 8, selects


def test_answers_record_their_business_time_and_a_backfill_records_the_same(rig: Rig) -> None:
    make_history(rig)
    reports = service(rig)
    before = reports.report(WEEK)
    answered = select(CommitmentRow.id, CommitmentRow.business_seconds).where(
        CommitmentRow.answered_at.is_not(None)
    )
    with rig.services.uow() as uow:
        recorded = dict(uow.session.execute(answered).all())
        # Ana's answer after hours: none of business time; Jim's late one: five hours.
        assert sorted(recorded.values()) == [0.0, 5 * 3600.0]
        uow.session.execute(update(CommitmentRow).values(business_seconds=None))
        uow.commit()
    # Answered before migration 0016: the report computes them from the calendars.
    assert reports.report(WEEK).promises == before.promises
    assert reports.backfill(rig.services.uow) == 2
    assert reports.backfill(rig.services.uow) == 0
    with rig.services.uow() as uow:
        assert dict(uow.session.execute(answered).all()) == recorded


def test_periods_and_months_are_checked(rig: Rig) -> None:
    reports = service(rig)
    default = reports.period(None, None, None)
    assert default.end - default.start == timedelta(days=28)
    assert reports.period("2026-12-01", "2026-12-01", "Europe/London").zone.key == "Europe/London"  # type: ignore[attr-defined]  # a ZoneInfo
    for first, last, zone in (
        ("2026-12-02", "2026-12-01", None),
        ("2026-13-01", None, None),
        ("2024-01-01", "2026-12-01", None),
        (None, None, "Mars/Base"),
    ):
        with pytest.raises(DomainError):
            reports.period(first, last, zone)
    with pytest.raises(NotFound):
        reports.client_month("nobody", "2026-12")
    with pytest.raises(DomainError):
        reports.client_month("acme", "2026-13")


def test_a_clients_month(rig: Rig) -> None:
    make_history(rig)
    month = service(rig).client_month("brightside", "2026-12")
    assert (month.client_name, month.month) == ("Brightside Bakery", "2026-12")
    assert month.promises.total.started == 2
    assert [b.late_by_seconds for b in month.breaches] == [3600]
    assert month.response.max == timedelta(hours=5)
    assert month.after_hours_contacts == 0
    lines = list(service(rig).commitment_lines(WEEK))
    assert [line.outcome for line in lines] == ["met", "breached", "unanswered"]
    notes = list(service(rig).notification_lines(WEEK))
    assert [(n.staff, n.step) for n in notes] == [
        ("raj", 1),
        ("jim", 2),
        ("jim", 2),
        ("kim", 3),
    ]
