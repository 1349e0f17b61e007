"""A client's monthly report (docs/CONTRACT.md): `GET /reports/clients/{id}?month=YYYY-MM&token=…`
and `partnerline report client` write the same self-contained, printable page.

No login: the signed, expiring token in the link is the credential (bot/usecases/reports.py),
as for the calendar feeds. The page holds its own style, allowed by its hash alone, and nothing
else loads: it prints to PDF from the browser and opens the same from a file.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from bot.container import Container
from bot.http.web.report_chart import hours_text
from bot.usecases.directory import Directory
from bot.usecases.reports import ClientMonth, ReportService, report_token_valid
from routing.durations import format_duration
from routing.plain_time import day_and_time

HERE = Path(__file__).parent
CSS = (HERE / "static" / "client-report.css").read_text(encoding="utf-8")
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)

router = APIRouter(include_in_schema=False)


def promise_text(directory: Directory, client_id: str) -> str:
    """The client's promise in words: "30m of business hours; 1h after hours"."""
    policy = directory.commitments.get(directory.terms_of(client_id).tier)
    if policy is None:
        return "as agreed"
    inside = f"{format_duration(policy.business)} of business hours"
    if policy.after_hours is None:
        return f"{inside}; after hours, the same from the next opening"
    return f"{inside}; {format_duration(policy.after_hours)} after hours"


def render_client_report(month: ClientMonth, promise: str) -> str:
    zone = month.period.zone

    def local(t: datetime | None) -> str:
        return "" if t is None else day_and_time(t, zone, month.as_of)

    def seconds(value: float | None) -> timedelta | None:
        return None if value is None else timedelta(seconds=value)

    first_day = month.period.start.astimezone(zone)
    return _ENV.get_template("client_report.html").render(
        m=month,
        css=CSS,
        zone=str(zone),
        month_name=f"{first_day:%B %Y}",
        tiers=promise,
        local=local,
        seconds=seconds,
        hours=hours_text,
        percent=lambda share: "–" if share is None else f"{share:.0%}",
    )


def client_report_html(
    directory: Directory, reports: ReportService, client: str, month: str
) -> str:
    return render_client_report(
        reports.client_month(client, month), promise_text(directory, client)
    )


@router.get("/reports/clients/{client_id}")
async def client_report(
    request: Request,
    client_id: str,
    month: Annotated[str, Query(max_length=7)],
    token: Annotated[str | None, Query(max_length=128)] = None,
) -> HTMLResponse:
    container: Container = request.app.state.container
    secret = container.settings.secret_key
    if secret is None:
        raise HTTPException(404, detail="client reports are off: PARTNERLINE_SECRET_KEY is not set")
    # The token first, so that a wrong one says nothing about which clients exist.
    now = container.clock.now()
    if not report_token_valid(secret.get_secret_value(), client_id, month, token, now):
        raise HTTPException(403, detail="invalid, expired or missing report token")
    directory = container.directory
    reports = ReportService(directory, container.services.reader, container.clock)
    html = await run_in_threadpool(client_report_html, directory, reports, client_id, month)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",  # the token is in the URL
            "X-Robots-Tag": "noindex",
        },
    )
