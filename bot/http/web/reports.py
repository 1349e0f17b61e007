"""`/inbox/reports`: did we keep our promises, for whom, and what did it cost the people on
call (bot/usecases/reports.py). Admins see everything, staff their clients and themselves.
Each figure links to the inbox list behind it (bot/http/web/inbox_query.py's filters)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.container import Container
from bot.http.sessions import Staff
from bot.http.web.guard import StaffDep
from bot.http.web.report_chart import hours_text, trend_svg
from bot.http.web.templating import render
from bot.usecases.reports import LINK_LIFETIME, ReportService, report_path, scope_for
from routing.errors import DomainError
from routing.reports import Kind

router = APIRouter(include_in_schema=False)

DayQuery = Annotated[str | None, Query(max_length=10)]
ZoneQuery = Annotated[str | None, Query(max_length=64)]


def inbox_link(**filters: str | None) -> str:
    """The inbox list under these filters (view, client, channel, q)."""
    return "/inbox?" + urlencode({k: v for k, v in filters.items() if v})


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _load(
    request: Request, staff: Staff, first: str | None, last: str | None, zone: str | None
) -> dict[str, Any]:
    container: Container = request.app.state.container
    reports = ReportService(container.directory, container.services.reader, container.clock)
    period = reports.period(first, last, zone or staff.zone.key)
    scope = scope_for(container.directory, staff.author.id, staff.is_admin)
    report = reports.report(period, scope)
    shown_last = (period.end - timedelta(microseconds=1)).astimezone(period.zone).date()
    query = {
        "from": period.start.astimezone(period.zone).date().isoformat(),
        "to": shown_last.isoformat(),
        "zone": str(period.zone),
    }
    # Admins get each client's monthly report link (for the month the period ends in).
    links: dict[str, str] = {}
    secret = container.settings.secret_key
    if staff.is_admin and secret is not None:
        month = shown_last.strftime("%Y-%m")
        expires = container.clock.now() + LINK_LIFETIME
        links = {
            c: report_path(secret.get_secret_value(), c, month, expires)
            for c in container.directory.clients
        }
    return {
        "report": report,
        "report_links": links,
        "query": query,
        "query_string": urlencode(query),
        "chart": trend_svg(report.trend, "Weekly attainment and p90 first response"),
        "names": report.names,
        "scope_all": scope.everything,
        "kinds": list(Kind),
        "client_rows": sorted(
            ((k, t) for k, t in report.promises.by_client.items() if k is not None),
            key=lambda kv: report.names.get(kv[0], kv[0]),
        ),
    }


@router.get("/inbox/reports")
async def reports_page(
    request: Request,
    staff: StaffDep,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: DayQuery = None,
    zone: ZoneQuery = None,
) -> Response:
    helpers = {"inbox_link": inbox_link, "percent": percent, "hours": hours_text}
    try:
        context = await run_in_threadpool(_load, request, staff, first, to, zone)
    except DomainError as exc:
        context = {"error": exc.user_message, "query": {"from": first, "to": to, "zone": zone}}
        return render(request, "reports.html", staff, {**context, **helpers}, status_code=400)
    return render(request, "reports.html", staff, {**context, **helpers})
