"""What the promise reports read (routing/reports.py): commitments, pages with their
notifications, and after-hours acknowledgements of a period, as routing.reports records.

Each read is one query (two for pages), whatever the number of rows. Who answered a
commitment, whether it is its conversation's first and the business time it waited are
columns written as it is started and answered (migration 0016), so the figures of a period
are summed by the database (`period_figures`, `after_hours`: a few hundred rows for a quarter
of 40,000 commitments) rather than read a row per commitment; on SQLite, and for commitments
answered before 0016, the response times and the pages are read and taken here (the tests
compare both ways). `commitments` and `iter_commitments` still read one row per commitment,
for the exports and the tests; `iter_commitments` streams through a server-side cursor.

On PostgreSQL the reads of a report run with JIT compilation off: on these queries it costs
more (0.3 s for a quarter) than the whole query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Float,
    Row,
    Select,
    Subquery,
    Time,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from routing.reports import (
    NIGHT_ENDS,
    NIGHT_STARTS,
    AfterHoursFigures,
    CommitmentFact,
    NotificationFact,
    OpenTime,
    Outcome,
    OutcomeCount,
    Paged,
    PageFact,
    Period,
    ResponseSample,
    ResponseSpreads,
    Speed,
    Spread,
    after_hours_figures,
    business_seconds,
    paged,
    response_spreads,
)
from storage.tables import (
    CommitmentRow,
    ConversationRow,
    MessageRow,
    PageNotificationRow,
    PageRow,
    StaffAccountRow,
)

# Rows fetched from the database at a time while streaming.
BATCH = 1000


def _started_in(a: datetime, b: datetime) -> ColumnElement[bool]:
    return and_(CommitmentRow.started_at >= a, CommitmentRow.started_at < b)


def commitments_query(
    a: datetime, b: datetime, client_ids: Collection[str] | None = None
) -> Select[*tuple[Any, ...]]:
    """Commitments started in [a, b), oldest first, with their conversation's client and
    channel, who answered, whether each is its conversation's first, and the business time
    it waited (when recorded)."""
    query = (
        select(
            CommitmentRow.id,
            CommitmentRow.conversation_id,
            ConversationRow.client_id,
            CommitmentRow.tier,
            ConversationRow.channel,
            CommitmentRow.after_hours,
            CommitmentRow.started_at,
            CommitmentRow.due_at,
            CommitmentRow.answered_at,
            CommitmentRow.answered_by,
            CommitmentRow.closed_at,
            CommitmentRow.first_of_conversation.label("first"),
            CommitmentRow.business_seconds,
        )
        .join(ConversationRow, ConversationRow.id == CommitmentRow.conversation_id)
        .where(_started_in(a, b))
        .order_by(CommitmentRow.started_at, CommitmentRow.id)
    )
    if client_ids is not None:
        query = query.where(ConversationRow.client_id.in_(list(client_ids)))
    return query


def _fact(row: Row[*tuple[Any, ...]]) -> CommitmentFact:
    return CommitmentFact(
        id=row.id,
        conversation_id=row.conversation_id,
        client_id=row.client_id,
        tier=row.tier,
        channel=row.channel,
        after_hours=bool(row.after_hours),
        started_at=row.started_at,
        due_at=row.due_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        closed_at=row.closed_at,
        first=bool(row.first),
        business_seconds=row.business_seconds,
    )


def _outcome(as_of: datetime) -> ColumnElement[str]:
    """routing.reports.CommitmentFact.outcome, in SQL."""
    c = CommitmentRow
    return case(
        (
            c.answered_at <= as_of,  # NULL (false) while unanswered
            case((c.answered_at <= c.due_at, Outcome.MET.value), else_=Outcome.BREACHED.value),
        ),
        (and_(c.closed_at < c.due_at, c.closed_at <= as_of), Outcome.UNANSWERED.value),
        (c.due_at <= as_of, Outcome.BREACHED.value),
        else_=Outcome.PENDING.value,
    )


def _period_rows(
    a: datetime,
    b: datetime,
    as_of: datetime,
    week_bounds: Sequence[datetime],
    client_ids: Collection[str] | None,
) -> Select[*tuple[Any, ...]]:
    """Commitments started in [a, b), each with what the figures group by, as of `as_of`
    (the definitions of routing.reports.CommitmentFact.outcome, in SQL)."""
    c = CommitmentRow
    answered = c.answered_at <= as_of  # NULL (false) while unanswered
    # Its week: how many week starts after the period's first it is at or after.
    week: ColumnElement[int] = (
        case(
            *((c.started_at < bound, n) for n, bound in enumerate(week_bounds)),
            else_=len(week_bounds),
        )
        if week_bounds
        else literal(0)
    )
    query = (
        select(
            ConversationRow.client_id,
            c.tier,
            ConversationRow.channel,
            case((answered, c.answered_by)).label("staff"),
            c.after_hours,
            week.label("week"),
            _outcome(as_of).label("outcome"),
            case((and_(answered, c.answered_at > c.due_at), true()), else_=false()).label("late"),
            case((answered, true()), else_=false()).label("answered"),
            c.first_of_conversation.label("first"),
            c.started_at,
            c.answered_at,
            c.business_seconds,
        )
        .join(ConversationRow, ConversationRow.id == c.conversation_id)
        .where(_started_in(a, b))
    )
    if client_ids is not None:
        query = query.where(ConversationRow.client_id.in_(list(client_ids)))
    return query


_NONE = (None, None, None)


def _count_keys(rows: Subquery | CTE) -> list[ColumnElement[Any]]:
    """What the outcome counts are grouped by (routing.reports.OutcomeCount)."""
    return [
        rows.c.client_id,
        rows.c.tier,
        rows.c.channel,
        rows.c.staff,
        rows.c.after_hours,
        rows.c.week,
        rows.c.outcome,
        rows.c.late,
    ]


def _count(r: Row[*tuple[Any, ...]]) -> OutcomeCount:
    return OutcomeCount(
        r.client_id,
        r.tier,
        r.channel,
        r.staff,
        bool(r.after_hours),
        int(r.week),
        Outcome(r.outcome),
        bool(r.late),
        int(r.n),
    )


def _spread(count: int, median: Any, p90: Any, most: Any) -> Spread:
    def delta(value: Any) -> timedelta | None:
        return None if value is None else timedelta(seconds=float(value))

    return Spread(int(count), delta(median), delta(p90), delta(most))


class ReportReader:
    """Reads for the reports; never writes. Instants are aware (UTC) going in and out."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._planned = False

    def _plan(self) -> None:
        """Before the first read, on PostgreSQL: no JIT compilation in this transaction."""
        if self.postgres and not self._planned:
            self.session.execute(text("SET LOCAL jit = off"))
        self._planned = True

    def period_figures(
        self,
        a: datetime,
        b: datetime,
        as_of: datetime,
        week_bounds: Sequence[datetime],
        calendars: Mapping[str, OpenTime],
        client_ids: Collection[str] | None = None,
        every: bool = False,
    ) -> tuple[list[OutcomeCount], ResponseSpreads]:
        """The commitments started in [a, b): counted by client, tier, channel, answerer,
        hours, week (`week_bounds`: routing.reports.week_bounds) and outcome as of `as_of`;
        and the response times of those answered by then, spread overall, per client and
        each week's p90 first response (and, with `every`, spread all together; else
        `ResponseSpreads.every` is empty on PostgreSQL).

        PostgreSQL sums and ranks both in one statement (percentile_disc is the nearest
        rank). On SQLite, or when a commitment answered before migration 0016 has no
        business time recorded (`calendars` give it), the response times are read and
        spread here."""
        self._plan()
        query = _period_rows(a, b, as_of, week_bounds, client_ids)
        rows = query.subquery("period")
        if self.postgres:
            counts, spreads = self._summed_in_sql(query.cte("period"), every)
            if spreads is not None:
                return counts, spreads
        else:
            counts = self._counts(rows)
        return counts, self._spreads_here(rows, calendars)

    def _counts(self, rows: Subquery) -> list[OutcomeCount]:
        keys = _count_keys(rows)
        query = select(*keys, func.count().label("n")).group_by(*keys)
        return [_count(r) for r in self.session.execute(query)]

    def _spreads_here(self, rows: Subquery, calendars: Mapping[str, OpenTime]) -> ResponseSpreads:
        samples = []
        for r in self.session.execute(
            select(
                rows.c.first,
                rows.c.client_id,
                rows.c.week,
                rows.c.tier,
                rows.c.started_at,
                rows.c.answered_at,
                rows.c.business_seconds,
            ).where(rows.c.answered == true())
        ):
            business = r.business_seconds
            if business is None and (calendar := calendars.get(r.tier)) is not None:
                business = business_seconds(calendar, r.started_at, r.answered_at)
            samples.append(
                ResponseSample(
                    bool(r.first),
                    r.client_id,
                    int(r.week),
                    max(r.answered_at - r.started_at, timedelta(0)),
                    None if business is None else timedelta(seconds=business),
                )
            )
        return response_spreads(samples)

    def _summed_in_sql(
        self, rows: CTE, every: bool
    ) -> tuple[list[OutcomeCount], ResponseSpreads | None]:
        """The counts and the spreads by PostgreSQL in one statement: the period's rows
        gathered once (a CTE read twice is materialized), then counted, and ranked by
        grouping sets; the spreads None when a business time is missing."""
        answered = rows.c.answered == true()
        # float8 rather than the numeric extract() gives: it sorts several times faster.
        epoch = cast(func.extract("epoch", rows.c.answered_at - rows.c.started_at), Float)
        # Unanswered rows give NULL, which the ranks and counts leave out.
        wall = case((answered, func.greatest(epoch, 0)))
        business = case((answered, rows.c.business_seconds))
        ranks = postgresql.array([literal(0.5), literal(0.9), literal(1.0)])
        keys = _count_keys(rows)
        nothing: list[ColumnElement[Any]] = [null().label(k.key) for k in keys]
        no_ranks: list[ColumnElement[Any]] = [
            literal(0).label("missing"),
            literal(0).label("walls"),
            cast(null(), ARRAY(Float)).label("wall"),
            literal(0).label("businesses"),
            cast(null(), ARRAY(Float)).label("business"),
        ]
        counted = select(
            literal(0).label("set"),
            *keys,
            null().label("first"),
            func.count().label("n"),
            *no_ranks,
        ).group_by(*keys)
        ranked = select(
            # Which grouping set a row ranks: 3 (first), 1 (first, client), 2 (first, week),
            # 7 every answered one.
            func.grouping(rows.c.first, rows.c.client_id, rows.c.week).label("set"),
            rows.c.client_id,
            *nothing[1:5],
            rows.c.week,
            *nothing[6:],
            rows.c.first,
            func.count().label("n"),
            func.count(case((and_(answered, rows.c.business_seconds.is_(None)), 1))),
            func.count(wall),
            # One sort for the three: the median, p90 and the maximum (rank 1.0).
            func.percentile_disc(ranks).within_group(wall),
            func.count(business),
            func.percentile_disc(ranks).within_group(business),
        ).group_by(
            func.grouping_sets(
                tuple_(rows.c.first),
                tuple_(rows.c.first, rows.c.client_id),
                tuple_(rows.c.first, rows.c.week),
                *([tuple_()] if every else []),
            )
        )
        query = union_all(counted, ranked)
        counts: list[OutcomeCount] = []
        empty = Spread(0, None, None, None)
        overall: dict[bool, tuple[Spread, Spread]] = {}
        clients: defaultdict[str | None, dict[bool, tuple[Spread, Spread]]] = defaultdict(dict)
        weeks: dict[int, tuple[timedelta | None, timedelta | None]] = {}
        missing = False
        together = (empty, empty)
        for r in self.session.execute(query):
            if r.set == 0:
                counts.append(_count(r))
                continue
            missing = missing or bool(r.missing)
            first = bool(r.first)
            pair = (
                _spread(r.walls, *(r.wall or _NONE)),
                _spread(r.businesses, *(r.business or _NONE)),
            )
            if r.set == 7:
                together = pair
            elif r.set == 3:
                overall[first] = pair
            elif r.set == 1:
                clients[r.client_id][first] = pair
            elif first:
                weeks[int(r.week)] = (pair[0].p90, pair[1].p90)
        if missing:
            return counts, None

        def speed(of: dict[bool, tuple[Spread, Spread]]) -> Speed:
            (fw, fb), (nw, nb) = of.get(True, (empty, empty)), of.get(False, (empty, empty))
            return Speed(fw, fb, nw, nb)

        spreads = ResponseSpreads(
            speed(overall), {c: speed(v) for c, v in clients.items()}, weeks, together
        )
        return counts, spreads

    def breached(
        self,
        a: datetime,
        b: datetime,
        as_of: datetime,
        client_ids: Collection[str] | None = None,
    ) -> list[CommitmentFact]:
        """The commitments started in [a, b) that are breached as of `as_of`, oldest first."""
        self._plan()
        query = commitments_query(a, b, client_ids).where(_outcome(as_of) == Outcome.BREACHED.value)
        return [_fact(row) for row in self.session.execute(query)]

    def iter_commitments(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> Iterator[CommitmentFact]:
        """Commitments started in [a, b), oldest first, streamed in batches of `BATCH`."""
        self._plan()
        query = commitments_query(a, b, client_ids).execution_options(yield_per=BATCH)
        for row in self.session.execute(query):
            yield _fact(row)

    def commitments(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> list[CommitmentFact]:
        """As `iter_commitments`, all at once (no server-side cursor: the planner may use
        parallel workers, and the rows come in one round trip)."""
        self._plan()
        return [_fact(row) for row in self.session.execute(commitments_query(a, b, client_ids))]

    def pages(
        self, a: datetime, b: datetime, client_ids: Collection[str] | None = None
    ) -> list[PageFact]:
        """Pages opened in [a, b), and pages with a notification sent in it (someone on call
        was told of an older page), each with all its notifications; oldest first."""
        self._plan()
        told = select(PageNotificationRow.page_id).where(
            PageNotificationRow.sent_at >= a, PageNotificationRow.sent_at < b
        )
        wanted = or_(and_(PageRow.opened_at >= a, PageRow.opened_at < b), PageRow.id.in_(told))
        if client_ids is not None:
            wanted = and_(wanted, PageRow.client_id.in_(list(client_ids)))
        page_ids = select(PageRow.id).where(wanted)
        notes: defaultdict[int, list[NotificationFact]] = defaultdict(list)
        # Core, not ORM, execution: thousands of rows, no objects to load.
        conn = self.session.connection()
        for n in conn.execute(
            select(
                PageNotificationRow.id,
                PageNotificationRow.page_id,
                PageNotificationRow.staff_id,
                PageNotificationRow.channel,
                PageNotificationRow.step,
                PageNotificationRow.due_at,
                PageNotificationRow.sent_at,
            )
            .where(PageNotificationRow.page_id.in_(page_ids))
            .order_by(PageNotificationRow.due_at, PageNotificationRow.id)
        ).all():  # all at once: iterating fetches a row a call
            notes[n.page_id].append(NotificationFact(*n))
        rows = conn.execute(
            select(
                PageRow.id,
                PageRow.conversation_id,
                PageRow.client_id,
                PageRow.opened_at,
                PageRow.acknowledged_at,
                PageRow.acknowledged_by,
                PageRow.resolved_at,
                PageRow.step,
                PageRow.round,
            )
            .where(wanted)
            .order_by(PageRow.opened_at, PageRow.id)
        ).all()
        return [
            PageFact(
                id=r.id,
                conversation_id=r.conversation_id,
                client_id=r.client_id,
                opened_at=r.opened_at,
                acknowledged_at=r.acknowledged_at,
                acknowledged_by=r.acknowledged_by,
                resolved_at=r.resolved_at,
                step=r.step,
                round=r.round,
                notifications=tuple(notes.get(r.id, ())),
            )
            for r in rows
        ]

    def after_hours(
        self,
        period: Period,
        as_of: datetime,
        zones: Mapping[str, tzinfo],
        client_ids: Collection[str] | None = None,
    ) -> tuple[AfterHoursFigures, list[Paged]]:
        """The after-hours figures of `period` as of `as_of`, and each person's notifications
        sent in it (`zones`: each person's, the period's for anyone missing). PostgreSQL
        counts and ranks them; on SQLite (or for a zone with no IANA name) they are taken
        here from the pages (routing.reports.after_hours_figures, paged)."""
        a, b = period.start, period.end
        acks = self.acknowledgements(a, b, as_of, client_ids)
        names = {s: getattr(z, "key", None) for s, z in zones.items()}
        default = getattr(period.zone, "key", None)
        if self.postgres and default is not None and None not in names.values():
            return (
                self._after_hours_in_sql(a, b, as_of, acks, client_ids),
                self._paged_in_sql(a, b, names, default, client_ids),
            )
        pages = self.pages(a, b, client_ids)
        return after_hours_figures(pages, acks, period, as_of), paged(pages, period, zones)

    def _after_hours_in_sql(
        self,
        a: datetime,
        b: datetime,
        as_of: datetime,
        acks: int,
        client_ids: Collection[str] | None,
    ) -> AfterHoursFigures:
        p = PageRow
        acked = and_(p.acknowledged_at.is_not(None), p.acknowledged_at <= as_of)
        wait = cast(func.extract("epoch", p.acknowledged_at - p.opened_at), Float)
        ranks = postgresql.array([literal(0.5), literal(0.9), literal(1.0)])
        query = (
            select(
                func.grouping(p.step).label("all_steps"),
                p.step,
                func.count().label("opened"),
                func.count(case((acked, 1))).label("acked"),
                func.percentile_disc(ranks).within_group(case((acked, wait))).label("waits"),
                func.count(case((or_(p.step >= 2, p.round >= 1), 1))).label("step_2"),
                func.count(
                    case((and_(~acked, or_(p.resolved_at.is_(None), p.resolved_at > as_of)), 1))
                ).label("still_open"),
            )
            .where(p.opened_at >= a, p.opened_at < b, p.opened_at <= as_of)
            .group_by(func.grouping_sets(tuple_(), tuple_(p.step)))
        )
        if client_ids is not None:
            query = query.where(p.client_id.in_(list(client_ids)))
        total = None
        at_step: dict[int, int] = {}
        for r in self.session.execute(query):
            if r.all_steps:
                total = r
            elif r.acked:
                at_step[int(r.step)] = int(r.acked)
        if total is None:  # no page at all
            return AfterHoursFigures(acks, 0, Spread(0, None, None, None), 0, 0, 0, {})
        return AfterHoursFigures(
            acknowledgements=acks,
            pages_opened=int(total.opened),
            time_to_acknowledge=_spread(total.acked, *(total.waits or _NONE)),
            reached_step_2=int(total.step_2),
            never_acknowledged=int(total.opened - total.acked),
            still_open=int(total.still_open),
            acknowledged_at_step=dict(sorted(at_step.items())),
        )

    def _paged_in_sql(
        self,
        a: datetime,
        b: datetime,
        zones: Mapping[str, str | None],
        default: str,
        client_ids: Collection[str] | None,
    ) -> list[Paged]:
        n = PageNotificationRow
        zone = (
            case(*((n.staff_id == staff, name) for staff, name in zones.items()), else_=default)
            if zones
            else literal(default)
        )
        local = func.timezone(zone, n.sent_at)  # wall time in the person's zone
        clock = cast(local, Time)
        night = case(
            (clock >= NIGHT_STARTS, cast(local, Date)),
            (clock < NIGHT_ENDS, cast(local, Date) - 1),
        )
        query = (
            select(
                n.staff_id,
                func.count().label("notes"),
                func.count(n.page_id.distinct()).label("pages"),
                func.count(night.distinct()).label("nights"),
            )
            .where(n.sent_at >= a, n.sent_at < b)
            .group_by(n.staff_id)
        )
        if client_ids is not None:
            query = query.join(PageRow, PageRow.id == n.page_id).where(
                PageRow.client_id.in_(list(client_ids))
            )
        return [
            Paged(r.staff_id, int(r.notes), int(r.pages), int(r.nights))
            for r in self.session.execute(query)
        ]

    def acknowledgements(
        self,
        a: datetime,
        b: datetime,
        as_of: datetime,
        client_ids: Collection[str] | None = None,
    ) -> int:
        """How many after-hours acknowledgements were sent in [a, b) by `as_of` (to
        `client_ids`' people only, when given)."""
        self._plan()
        query = (
            select(func.count())
            .select_from(MessageRow)
            .where(
                MessageRow.direction == "auto",
                MessageRow.created_at >= a,
                MessageRow.created_at < b,
                MessageRow.created_at <= as_of,
            )
        )
        if client_ids is not None:
            query = query.join(
                ConversationRow, ConversationRow.id == MessageRow.conversation_id
            ).where(ConversationRow.client_id.in_(list(client_ids)))
        return int(self.session.execute(query).scalar_one())

    def staff_zones(self) -> dict[str, str]:
        """Each staff member's chosen zone (their inbox login's), where they chose one."""
        rows = self.session.execute(
            select(StaffAccountRow.staff_id, StaffAccountRow.timezone)
            .where(StaffAccountRow.timezone.is_not(None))
            .order_by(StaffAccountRow.id)
        )
        return {r.staff_id: r.timezone for r in rows}
