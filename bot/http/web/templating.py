"""Jinja2 templates of the inbox (autoescaped: client text always renders as text)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from bot.http.sessions import CSRF_FIELD, Staff

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Filters and globals the templates use.
TEMPLATES.env.globals["CSRF_FIELD"] = CSRF_FIELD


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def _when(value: datetime | None) -> str:
    """A short absolute time, in UTC on the server; the browser rewrites it in local time."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%b %d %H:%M UTC")


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
