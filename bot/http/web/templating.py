"""Jinja2 templates of the inbox (autoescaped: client text always renders as text)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.responses import HTMLResponse

from bot.http.sessions import CSRF_FIELD, Staff
from routing.plain_time import beside, day_and_time, zone_abbreviation

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Filters and globals the templates use.
TEMPLATES.env.globals["CSRF_FIELD"] = CSRF_FIELD


def _instant(value: datetime | str | None) -> datetime | None:
    """A time as the pages get them: a datetime, or ISO 8601 text (the on-call objects')."""
    if value is None or value == "":
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _iso(value: datetime | str | None) -> str:
    instant = _instant(value)
    return instant.astimezone(UTC).isoformat() if instant is not None else ""


@pass_context
def _when(context: Context, value: datetime | str | None) -> str:
    """A short absolute time in the reader's zone, which it names: "Dec 6, 2:11 PM EST".
    Rendered here, not in the browser, so that every reader of one instant sees the same text
    whatever their device's zone (the `datetime` attribute keeps UTC for machines)."""
    instant = _instant(value)
    if instant is None:
        return ""
    return day_and_time(instant, context["staff_zone"], context.get("now"))


@pass_context
def _for_client(context: Context, value: datetime | str | None, client_zone: object) -> str:
    """`value` as the client reads it, "9:11 PM GMT for the client", when their clock shows
    another time than the reader's; else ""."""
    instant = _instant(value)
    if instant is None or not isinstance(client_zone, tzinfo):  # a page that knows no client
        return ""
    reading = beside(instant, context["staff_zone"], client_zone)
    return f"{reading} for the client" if reading else ""


@pass_context
def _zone_label(context: Context, short: bool = False) -> str:
    """The reader's zone as forms state it, "America/Detroit (EST)"; `short`: "EST"."""
    zone = context["staff_zone"]
    now = context.get("now") or datetime.now(UTC)
    abbreviation = zone_abbreviation(now.astimezone(zone))
    return abbreviation if short else f"{zone.key} ({abbreviation})"


def _left(due: datetime | None, now: datetime) -> str:
    """The countdown as the page first shows it (the browser then ticks it every second)."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    sign, seconds = ("overdue " if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h {minutes:02d}m"
    elif minutes:
        text = f"{minutes}m {secs:02d}s"
    else:
        text = f"{secs}s"
    return sign + text if sign else text + " left"


TEMPLATES.env.filters["iso"] = _iso
TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["for_client"] = _for_client
TEMPLATES.env.globals["zone_label"] = _zone_label
TEMPLATES.env.globals["left"] = _left


def render(
    request: Request,
    name: str,
    staff: Staff | None,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = request.app.state.container
    values: dict[str, Any] = {
        "staff": staff,
        "csrf": staff.csrf if staff is not None else "",
        "now": container.clock.now(),
        # Times render in the reader's zone (their profile's, else the agency's).
        "staff_zone": staff.zone if staff is not None else container.directory.zone,
        "agency": container.config.agency.name,
        "sandbox": getattr(request.app.state, "sandbox", None) is not None,
    }
    values.update(context or {})
    response = TEMPLATES.TemplateResponse(request, name, values, status_code=status_code)
    # Pages show private conversations: never cache them, never frame them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response
