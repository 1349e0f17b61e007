"""Promise reports in the staff API (docs/CONTRACT.md): figures for `?from=&to=&zone=` as
JSON, and row-level exports with `?format=csv` (or the same rows as JSON with `?format=rows`).

`/summary` and `/clients` export one row per commitment started in the period; `/staff` one
row per page notification sent in it. The CSV streams from the database as it is written.
Definitions: routing/reports.py and the README's "Promise reports".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from bot.http.api.responses import errors
from bot.http.deps import AuthorDep, ContainerDep
from bot.usecases.reports import Report, ReportService, Scope, scope_for
from routing.reports import (
    CommitmentLine,
    Fairness,
    Kind,
    NotificationLine,
    Period,
    PersonCost,
    Spread,
    Tally,
    WeekPoint,
)
from routing.reports import Speed as SpeedFigures

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=errors(401))

Format = Literal["json", "csv", "rows"]
ROWS_PER_CHUNK = 500
_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figures as JSON; with `format=csv` a CSV export, one row per "
        "commitment (summary, clients) or page notification (staff); `format=rows` the "
        "same rows as JSON.",
        "content": {"text/csv": {}},
    }
}


# ------------------------------------------------------------------ the JSON objects


class PeriodOut(BaseModel):
    start: datetime
    end: datetime
    zone: str
    as_of: datetime


class SpreadOut(BaseModel):
    """Seconds; nearest-rank median and p90."""

    count: int
    median: float | None
    p90: float | None
    max: float | None


class SpeedOut(BaseModel):
    first_wall: SpreadOut
    first_business: SpreadOut
    next_wall: SpreadOut
    next_business: SpreadOut


class TallyOut(BaseModel):
    started: int
    met: int
    breached: int
    unanswered: int
    pending: int
    late_answers: int
    attainment: float | None


class GroupOut(TallyOut):
    key: str | None
    name: str | None = None


class WeekOut(BaseModel):
    week: str
    started: int
    attainment: float | None
    first_p90: float | None
    first_p90_business: float | None


class AfterHoursOut(BaseModel):
    acknowledgements: int
    pages_opened: int
    time_to_acknowledge: SpreadOut
    reached_step_2: int
    never_acknowledged: int
    still_open: int
    acknowledged_at_step: dict[str, int]


class SummaryOut(BaseModel):
    period: PeriodOut
    promises: TallyOut
    speed: SpeedOut
    by_tier: list[GroupOut]
    by_channel: list[GroupOut]
    by_staff: list[GroupOut]
    by_hours: list[GroupOut]
    after_hours: AfterHoursOut
    trend: list[WeekOut]


class ClientOut(GroupOut):
    speed: SpeedOut


class ClientsOut(BaseModel):
    period: PeriodOut
    items: list[ClientOut]


class PersonOut(BaseModel):
    staff: str
    name: str | None
    on_call_hours: float
    weekday_hours: float
    weekend_hours: float
    holiday_hours: float
    night_hours: float
    pages_received: int
    notifications: int
    nights_woken: int


class FairnessOut(BaseModel):
    rotation: str
    pages: dict[str, int]
    ratio: float | None


class StaffOut(BaseModel):
    period: PeriodOut
    items: list[PersonOut]
    fairness: list[FairnessOut]


class RowsOut(BaseModel):
    columns: list[str]
    items: list[dict[str, Any]]


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def spread_out(s: Spread) -> SpreadOut:
    return SpreadOut(
        count=s.count, median=seconds(s.median), p90=seconds(s.p90), max=seconds(s.max)
    )


def speed_out(s: SpeedFigures) -> SpeedOut:
    return SpeedOut(
        first_wall=spread_out(s.first_wall),
        first_business=spread_out(s.first_business),
        next_wall=spread_out(s.next_wall),
        next_business=spread_out(s.next_business),
    )


def tally_fields(t: Tally) -> dict[str, Any]:
    return {
        "started": t.started,
        "met": t.met,
        "breached": t.breached,
        "unanswered": t.unanswered,
        "pending": t.pending,
        "late_answers": t.late_answers,
        "attainment": t.attainment,
    }


def groups(tallies: dict[Any, Tally], names: dict[str, str]) -> list[GroupOut]:
    ordered = sorted(tallies.items(), key=lambda kv: (kv[0] is None, str(kv[0])))
    return [
        GroupOut(key=key, name=names.get(key) if key else None, **tally_fields(t))
        for key, t in ordered
    ]


def period_out(report: Report) -> PeriodOut:
    return PeriodOut(
        start=report.period.start.astimezone(report.period.zone),
        end=report.period.end.astimezone(report.period.zone),
        zone=str(report.period.zone),
        as_of=report.as_of,
    )


def week_out(w: WeekPoint) -> WeekOut:
    return WeekOut(
        week=w.week.isoformat(),
        started=w.started,
        attainment=w.attainment,
        first_p90=seconds(w.first_p90),
        first_p90_business=seconds(w.first_p90_business),
    )


def summary_out(report: Report) -> SummaryOut:
    p, a = report.promises, report.after_hours
    return SummaryOut(
        period=period_out(report),
        promises=TallyOut(**tally_fields(p.total)),
        speed=speed_out(p.speed),
        by_tier=groups(p.by_tier, {}),
        by_channel=groups(p.by_channel, {}),
        by_staff=groups(p.by_staff, report.names),
        by_hours=groups(p.by_hours, {}),
        after_hours=AfterHoursOut(
            acknowledgements=a.acknowledgements,
            pages_opened=a.pages_opened,
            time_to_acknowledge=spread_out(a.time_to_acknowledge),
            reached_step_2=a.reached_step_2,
            never_acknowledged=a.never_acknowledged,
            still_open=a.still_open,
            acknowledged_at_step={str(k): v for k, v in a.acknowledged_at_step.items()},
        ),
        trend=[week_out(w) for w in report.trend],
    )


def clients_out(report: Report) -> ClientsOut:
    p = report.promises
    items = [
        ClientOut(speed=speed_out(p.speed_by_client[g.key]), **g.model_dump())
        for g in groups(p.by_client, report.names)
    ]
    return ClientsOut(period=period_out(report), items=items)


def hours(value: timedelta) -> float:
    return round(value.total_seconds() / 3600, 4)


def person_out(cost: PersonCost, names: dict[str, str]) -> PersonOut:
    return PersonOut(
        staff=cost.staff,
        name=names.get(cost.staff),
        on_call_hours=hours(cost.on_call_total),
        weekday_hours=hours(cost.on_call[Kind.WEEKDAY]),
        weekend_hours=hours(cost.on_call[Kind.WEEKEND]),
        holiday_hours=hours(cost.on_call[Kind.HOLIDAY]),
        night_hours=hours(cost.on_call[Kind.NIGHT]),
        pages_received=cost.pages_received,
        notifications=cost.notifications,
        nights_woken=cost.nights_woken,
    )


def fairness_out(f: Fairness) -> FairnessOut:
    return FairnessOut(rotation=f.rotation, pages=f.pages, ratio=f.ratio)


def staff_out(report: Report) -> StaffOut:
    return StaffOut(
        period=period_out(report),
        items=[person_out(c, report.names) for c in report.cost.people.values()],
        fairness=[fairness_out(f) for f in report.cost.fairness],
    )


# ------------------------------------------------------------------ rows


def _cell(value: object, zone: tzinfo) -> object:
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    return value


def row_values(line: CommitmentLine | NotificationLine, zone: tzinfo) -> list[object]:
    return [_cell(v, zone) for v in astuple(line)]


def columns(kind: type[CommitmentLine] | type[NotificationLine]) -> list[str]:
    return [f.name for f in fields(kind)]


def csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_stream(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    """The CSV in chunks of `ROWS_PER_CHUNK` rows, as they come from the database: memory
    stays flat, and the server is not woken once per line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([csv_text(v) for v in row])
        if n % ROWS_PER_CHUNK == 0:
            yield take()
    yield take()


def export(
    format: Format,
    name: str,
    kind: type[CommitmentLine] | type[NotificationLine],
    lines: Iterator[CommitmentLine] | Iterator[NotificationLine],
    zone: tzinfo,
) -> StreamingResponse | RowsOut:
    header = columns(kind)
    if format == "rows":
        return RowsOut(
            columns=header,
            items=[dict(zip(header, row_values(x, zone), strict=True)) for x in lines],
        )
    return StreamingResponse(
        csv_stream(header, (row_values(x, zone) for x in lines)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# ------------------------------------------------------------------ routes


def get_reports(container: ContainerDep) -> ReportService:
    return ReportService(container.directory, container.services.reader, container.clock)


ReportsDep = Annotated[ReportService, Depends(get_reports)]
FromQuery = Annotated[
    str | None, Query(alias="from", max_length=10, description="first local day, YYYY-MM-DD")
]
ToQuery = Annotated[str | None, Query(max_length=10, description="last local day (included)")]
ZoneQuery = Annotated[
    str | None, Query(max_length=64, description="IANA zone; default the agency's")
]
FormatQuery = Annotated[Format, Query(description="json figures, csv or rows (JSON) export")]


def caller_scope(request: Request, reports: ReportService, author_id: str) -> Scope:
    return scope_for(reports.directory, author_id, bool(getattr(request.state, "is_admin", False)))


@dataclass(frozen=True, slots=True)
class Asked:
    """What a report route was asked: the period, what the caller may see, the format."""

    period: Period
    scope: Scope
    format: Format


def asked(
    request: Request,
    reports: ReportsDep,
    author: AuthorDep,
    first: FromQuery = None,
    to: ToQuery = None,
    zone: ZoneQuery = None,
    format: FormatQuery = "json",
) -> Asked:
    period = reports.period(first, to, zone)
    return Asked(period, caller_scope(request, reports, author.id), format)


AskedDep = Annotated[Asked, Depends(asked)]


@router.get("/summary", response_model=SummaryOut | RowsOut, responses={**_CSV, **errors(400)})
async def summary(reports: ReportsDep, ask: AskedDep) -> Any:
    """Promises, speed, after hours and the weekly trend for the period."""
    if ask.format != "json":
        return await _export_commitments(reports, ask, "commitments")
    return summary_out(await run_in_threadpool(reports.report, ask.period, ask.scope))


@router.get("/clients", response_model=ClientsOut | RowsOut, responses={**_CSV, **errors(400)})
async def clients(reports: ReportsDep, ask: AskedDep) -> Any:
    """Promises and response times per client."""
    if ask.format != "json":
        return await _export_commitments(reports, ask, "commitments")
    return clients_out(await run_in_threadpool(reports.report, ask.period, ask.scope))


@router.get("/staff", response_model=StaffOut | RowsOut, responses={**_CSV, **errors(400)})
async def staff(reports: ReportsDep, ask: AskedDep) -> Any:
    """On-call hours, pages, nights woken per person, and each rotation's fairness."""
    period, scope, format = ask.period, ask.scope, ask.format
    if format != "json":
        lines = reports.notification_lines(period, scope)
        if format == "rows":
            return await run_in_threadpool(
                export, format, "notifications", NotificationLine, lines, period.zone
            )
        return export(format, "page-notifications", NotificationLine, lines, period.zone)
    report = await run_in_threadpool(reports.report, period, scope)
    return staff_out(report)


async def _export_commitments(
    reports: ReportService, ask: Asked, name: str
) -> StreamingResponse | RowsOut | JSONResponse:
    lines = reports.commitment_lines(ask.period, ask.scope)
    if ask.format == "rows":
        return await run_in_threadpool(
            export, ask.format, name, CommitmentLine, lines, ask.period.zone
        )
    return export(ask.format, name, CommitmentLine, lines, ask.period.zone)
