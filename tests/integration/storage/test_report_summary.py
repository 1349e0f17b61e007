"""The promise reports summed by the database (storage/reports.py, migration 0016), on SQLite
and PostgreSQL: the same figures as reading each commitment, whichever way the database
takes them (percentiles in PostgreSQL; read and ranked here on SQLite, or when a business time
was never recorded), and migration 0016 up and down with its backfill."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, update

from routing.reports import (
    CommitmentFact,
    Outcome,
    Period,
    after_hours_figures,
    paged,
    promise_figures,
    spread,
    summed_figures,
    week_bounds,
    weekly_trend,
)
from storage.db import Database, normalise_url
from storage.migrate import alembic_config, upgrade
from storage.reports import ReportReader
from storage.tables import (
    ClientRow,
    CommitmentRow,
    ContactRow,
    ConversationRow,
    MessageRow,
    PageNotificationRow,
    PageRow,
)
from tests.support.schema import column_names

DETROIT = ZoneInfo("America/Detroit")
# Three weeks across the end of daylight saving time (1 November 2026).
PERIOD = Period.of_dates(date(2026, 10, 26), date(2026, 11, 15), DETROIT)
AS_OF = datetime(2026, 11, 14, 12, 0, tzinfo=DETROIT).astimezone(UTC)
CLIENTS = ("acme", "brightside", None)
CONVERSATIONS = 7


class HalfOpen:
    """A calendar open half of every hour (routing.reports.OpenTime)."""

    def between_epoch(self, a: float, b: float) -> float:
        return max(b - a, 0) / 2


CALENDARS = {"standard": HalfOpen(), "priority": HalfOpen()}


def history(db: Database) -> None:
    """Fifty commitments over the period and a day on either side, on seven conversations of
    three clients (one unknown), every outcome: met, answered late, closed unanswered,
    breached and never answered, breached then closed, answered only after the report's
    instant, and still pending; their business time recorded as the live path does."""
    start = PERIOD.start - timedelta(days=1)
    with db.session() as session:
        for client in CLIENTS[:2]:
            session.add(ClientRow(id=client, name=client.title(), commitment="standard"))
        for n in range(1, CONVERSATIONS + 1):
            client = CLIENTS[n % 3]
            session.add(ContactRow(id=n, client_id=client, name=f"C{n}", created_at=start))
            session.add(
                ConversationRow(
                    id=n,
                    contact_id=n,
                    client_id=client,
                    channel=("sms", "telegram")[n % 2],
                    chat_id=f"chat{n}",
                    created_at=start,
                    updated_at=start,
                )
            )
        session.flush()
        seen: set[int] = set()
        for i in range(50):
            conv = 1 + i % CONVERSATIONS
            started = start + i * timedelta(hours=11, minutes=17)
            due = started + timedelta(hours=1 if i % 2 else 4)
            fate = i % 6
            answered = closed = None
            if fate == 0:
                answered = started + timedelta(minutes=10 + i)
            elif fate == 1:
                answered = due + timedelta(hours=2, minutes=i)
            elif fate == 2:
                closed = started + timedelta(minutes=5)
            elif fate == 4:
                closed = due + timedelta(minutes=30)
            elif fate == 5:
                answered = AS_OF + timedelta(hours=1)  # after the report's instant
            by = ("ana", "jim", None)[i % 3] if answered else None
            session.add(
                CommitmentRow(
                    id=i + 1,
                    conversation_id=conv,
                    tier=("standard", "priority")[i % 2],
                    state="pending",
                    awaiting=False,
                    after_hours=i % 4 == 0,
                    started_at=started,
                    due_at=due,
                    at_risk_at=due,
                    answered_at=answered,
                    closed_at=closed,
                    answered_by=by,
                    first_of_conversation=conv not in seen,
                    business_seconds=None
                    if answered is None
                    else (answered - started).total_seconds() / 2,
                )
            )
            seen.add(conv)
        session.commit()


def read(
    db: Database, clients: frozenset[str] | None, every: bool = False
) -> tuple[object, list[CommitmentFact]]:
    bounds = week_bounds(PERIOD)
    with db.read_session() as session:
        reader = ReportReader(session)
        counts, spreads = reader.period_figures(
            PERIOD.start, PERIOD.end, AS_OF, bounds, CALENDARS, clients, every=every
        )
        facts = reader.commitments(PERIOD.start, PERIOD.end, clients)
    return (counts, spreads), facts


@pytest.mark.parametrize("clients", [None, frozenset({"acme"})], ids=["everyone", "acme"])
def test_summed_figures_equal_the_figures_of_each_commitment(
    database: Database, clients: frozenset[str] | None
) -> None:
    history(database)
    (counts, spreads), facts = read(database, clients, every=True)
    figures, trend = summed_figures(counts, spreads, PERIOD)  # type: ignore[arg-type]
    assert figures == promise_figures(facts, PERIOD, AS_OF, CALENDARS)
    assert trend == weekly_trend(facts, PERIOD, AS_OF, CALENDARS)
    assert len(trend) == 3
    # A naive count of the rows as written.
    outcomes = Counter(f.outcome(AS_OF) for f in facts)
    assert figures.total.started == len(facts) == sum(c.count for c in counts)  # type: ignore[attr-defined]
    assert figures.total.met == outcomes[Outcome.MET] > 0
    assert figures.total.breached == outcomes[Outcome.BREACHED] > 0
    assert figures.total.unanswered == outcomes[Outcome.UNANSWERED] > 0
    assert figures.total.pending == outcomes[Outcome.PENDING] > 0
    walls = [
        f.answered_at - f.started_at
        for f in facts
        if f.answered_at is not None and f.answered_at <= AS_OF
    ]
    assert spreads.every[0] == spread(walls)  # type: ignore[attr-defined]
    assert spreads.every[1] == spread(w / 2 for w in walls)  # type: ignore[attr-defined]
    if clients is not None:
        assert {f.client_id for f in facts} == set(clients)


def test_business_time_never_recorded_is_computed_from_the_calendars(
    database: Database,
) -> None:
    history(database)
    (_, recorded), _facts = read(database, None)
    with database.session() as session:
        session.execute(
            update(CommitmentRow).where(CommitmentRow.id % 3 == 0).values(business_seconds=None)
        )
        session.commit()
    (counts, computed), facts = read(database, None)
    assert computed == recorded
    figures, _ = summed_figures(counts, computed, PERIOD)  # type: ignore[arg-type]
    assert figures == promise_figures(facts, PERIOD, AS_OF, CALENDARS)


def test_postgresql_sums_and_ranks_in_one_statement(database: Database) -> None:
    history(database)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        read(database, None)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    # The figures, then the commitments one by one (for the comparison); SQLite reads the
    # response times in a second statement.
    assert len(reads) == (2 if database.engine.dialect.name == "postgresql" else 3), reads


def test_breaches_and_acknowledgements_as_of_the_report(database: Database) -> None:
    history(database)
    with database.session() as session:
        for minutes in (0, 30, 60 * 24 * 30):  # the last one after the report's instant
            session.add(
                MessageRow(
                    conversation_id=1,
                    direction="auto",
                    channel="sms",
                    author_type="system",
                    created_at=AS_OF - timedelta(hours=1) + timedelta(minutes=minutes),
                )
            )
        session.commit()
    with database.read_session() as session:
        reader = ReportReader(session)
        breached = reader.breached(PERIOD.start, PERIOD.end, AS_OF)
        facts = reader.commitments(PERIOD.start, PERIOD.end)
        acks = reader.acknowledgements(PERIOD.start, PERIOD.end, AS_OF)
        theirs = reader.acknowledgements(PERIOD.start, PERIOD.end, AS_OF, frozenset({"brightside"}))
        others = reader.acknowledgements(PERIOD.start, PERIOD.end, AS_OF, frozenset({"acme"}))
    assert breached == [f for f in facts if f.outcome(AS_OF) is Outcome.BREACHED]
    assert (acks, theirs, others) == (2, 2, 0)  # conversation 1 is Brightside's


# ------------------------------------------------------------------ pages and the people paged

LONDON = ZoneInfo("Europe/London")
STAFF = ("ana", "jim", "raj")


def pages_history(db: Database) -> None:
    """Thirty pages from two days before the period on, two to four notifications each, to
    three people, at every hour of the day and night (Raj's nights in London); acknowledged
    at steps 1 to 3, or never, some resolved after the report's instant; a few notifications
    never sent."""
    history(db)
    start = PERIOD.start - timedelta(days=2)
    with db.session() as session:
        for i in range(30):
            opened = start + i * timedelta(hours=17, minutes=41)
            step = 1 + i % 3
            acked = opened + timedelta(minutes=3 + 7 * i) if i % 4 else None
            session.add(
                PageRow(
                    id=i + 1,
                    conversation_id=1 + i % CONVERSATIONS,
                    client_id=CLIENTS[(1 + i % CONVERSATIONS) % 3],
                    state="acknowledged" if acked else "resolved",  # one open at most
                    step=step,
                    round=1 if i % 7 == 0 else 0,
                    opened_at=opened,
                    acknowledged_at=acked,
                    acknowledged_by=STAFF[i % 3] if acked else None,
                    resolved_at=opened + timedelta(hours=2) if i % 8 == 3 else None,
                )
            )
            session.flush()
            for n in range(1 + step):
                sent = opened + timedelta(minutes=5 * n)
                session.add(
                    PageNotificationRow(
                        key=f"p{i}.{n}",
                        page_id=i + 1,
                        staff_id=STAFF[(i + n) % 3],
                        channel="sms",
                        step=min(n + 1, step),
                        due_at=sent,
                        state="sent",
                        sent_at=None if (i + n) % 9 == 0 else sent,
                    )
                )
        session.commit()


@pytest.mark.parametrize("clients", [None, frozenset({"acme"})], ids=["everyone", "acme"])
def test_after_hours_and_paging_sums_equal_the_figures_of_each_page(
    database: Database, clients: frozenset[str] | None
) -> None:
    pages_history(database)
    zones = {"raj": LONDON}
    with database.read_session() as session:
        reader = ReportReader(session)
        after_hours, paging = reader.after_hours(PERIOD, AS_OF, zones, clients)
        pages = reader.pages(PERIOD.start, PERIOD.end, clients)
        acks = reader.acknowledgements(PERIOD.start, PERIOD.end, AS_OF, clients)
    assert after_hours == after_hours_figures(pages, acks, PERIOD, AS_OF)
    assert sorted(paging, key=lambda p: p.staff) == sorted(
        paged(pages, PERIOD, zones), key=lambda p: p.staff
    )
    # A naive count of the rows as written.
    opened = [p for p in pages if PERIOD.holds(p.opened_at) and p.opened_at <= AS_OF]
    assert after_hours.pages_opened == len(opened) > 0
    assert 0 < after_hours.never_acknowledged < len(opened)
    assert len(after_hours.acknowledged_at_step) == 3
    sent = [n for p in pages for n in p.notifications if PERIOD.holds(n.sent_at)]
    assert sum(p.notifications for p in paging) == len(sent) > 0
    assert all(0 < p.nights <= p.pages <= p.notifications for p in paging)


# ------------------------------------------------------------------ migration 0016

COLUMNS = {"first_of_conversation", "answered_by", "business_seconds"}


def test_0016_records_who_answered_and_the_first_of_each_conversation(empty_url: str) -> None:
    upgrade(empty_url, "0015")
    assert not COLUMNS & column_names(empty_url, "commitments")
    t0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    engine = sa.create_engine(normalise_url(empty_url))
    meta = sa.MetaData()
    meta.reflect(engine, only=["contacts", "conversations", "commitments", "messages"])
    contacts, conversations, commitments, messages = (
        meta.tables[n] for n in ("contacts", "conversations", "commitments", "messages")
    )

    def at(minutes: int) -> datetime:
        value = t0 + timedelta(minutes=minutes)
        return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value

    def commitment(ident: int, conv: int, started: int, answered: int | None) -> dict[str, object]:
        return {
            "id": ident,
            "conversation_id": conv,
            "tier": "standard",
            "state": "met" if answered is not None else "pending",
            "awaiting": False,
            "after_hours": False,
            "started_at": at(started),
            "due_at": at(started + 60),
            "at_risk_at": at(started + 45),
            "answered_at": None if answered is None else at(answered),
        }

    try:
        with engine.begin() as conn:
            conn.execute(contacts.insert(), [{"id": 1, "created_at": at(0)}])
            conn.execute(
                conversations.insert(),
                [
                    {
                        "id": n,
                        "contact_id": 1,
                        "channel": "sms",
                        "chat_id": f"c{n}",
                        "status": "open",
                        "created_at": at(0),
                        "updated_at": at(0),
                    }
                    for n in (1, 2)
                ],
            )
            conn.execute(
                commitments.insert(),
                [
                    commitment(1, 1, 0, 10),  # answered by Ana's message at +10
                    commitment(2, 1, 20, 30),  # no message at +30: nobody known
                    commitment(4, 2, 5, None),  # the same instant as 3, a higher id: not first
                    commitment(3, 2, 5, 40),  # answered by Jim (the earlier of two)
                ],
            )
            conn.execute(
                messages.insert(),
                [
                    {
                        "conversation_id": conv,
                        "direction": direction,
                        "channel": "sms",
                        "text": "",
                        "author_type": "staff",
                        "author_id": who,
                        "attachments": [],
                        "created_at": at(minutes),
                    }
                    for conv, direction, who, minutes in (
                        (1, "in", "client", 10),
                        (1, "out", "ana", 10),
                        (1, "note", "kim", 30),
                        (2, "out", "jim", 40),
                        (2, "out", "raj", 40),
                    )
                ],
            )
        upgrade(empty_url, "0016")
        assert column_names(empty_url, "commitments") >= COLUMNS
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, first_of_conversation, answered_by, business_seconds "
                    "FROM commitments ORDER BY id"
                )
            ).all()
        assert [(r[0], bool(r[1]), r[2], r[3]) for r in rows] == [
            (1, True, "ana", None),
            (2, False, None, None),
            (3, True, "jim", None),
            (4, False, None, None),
        ]
        command.downgrade(alembic_config(empty_url), "0015")
        assert not COLUMNS & column_names(empty_url, "commitments")
    finally:
        engine.dispose()
