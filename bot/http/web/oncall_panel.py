"""`/inbox/oncall`: who is on call now and next, open pages to acknowledge, overrides, and the
coverage gaps of the next 90 days (stored overrides included).

Overrides change who gets woken up, so only admin accounts may add or remove them here.
Times in the override form are wall-clock times in the signed-in staff member's zone (their
profile's, else the agency's), which the form names; the list shows overrides in it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.container import Container
from bot.http.api.responses import RowId
from bot.http.sessions import Staff
from bot.http.web.guard import FormDep, StaffDep, inbox_target
from bot.http.web.inbox import CHANNEL_LABELS
from bot.http.web.inbox_query import inbox_queries
from bot.http.web.live import live_since
from bot.http.web.templating import render
from bot.usecases.oncall import OnCallService
from routing.errors import DomainError

router = APIRouter(include_in_schema=False)


def _oncall(request: Request) -> OnCallService:
    """The container's OnCallService, the one the /api routes and the chat apps ask."""
    container: Container = request.app.state.container
    return container.oncall


def _load(request: Request) -> dict[str, Any]:
    container: Container = request.app.state.container
    oncall = _oncall(request)
    with container.services.reader() as uow:
        pages = inbox_queries(uow).pages(state="open", limit=200)
        convs = {p.conversation_id: uow.conversations.get(p.conversation_id) for p in pages}
    return {
        "who": oncall.who(),
        "pages": pages,
        "page_conversations": convs,
        "overrides": oncall.list_overrides(limit=50, upcoming=True)["items"],
        # With the stored overrides; affected clients by name (issue 17: coverage gaps).
        "gaps": oncall.coverage_gaps(),
        "client_names": {c.id: c.name for c in container.directory.clients.values()},
        "rotations": list(oncall.rotations),
        "staff_names": container.directory.staff_names,
        "can_ack": hasattr(container.services, "acknowledge"),
        "channel_labels": CHANNEL_LABELS,
    }


async def _panel(
    request: Request, staff: Staff, error: str | None = None, *, status: int = 400
) -> Response:
    since = await live_since(request)
    context = await run_in_threadpool(_load, request)
    context["error"] = error
    context["live_since"] = since
    return render(request, "oncall.html", staff, context, status_code=status if error else 200)


NOT_ADMIN = "Only admin accounts may change who is on call."


@router.get("/inbox/oncall")
async def panel(request: Request, staff: StaffDep) -> Response:
    return await _panel(request, staff)


def _done(request: Request) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Trigger": "pl:changed"})
    return Response(status_code=303, headers={"Location": "/inbox/oncall"})


@router.post("/inbox/pages/{page_id}/ack")
async def acknowledge(page_id: RowId, request: Request, staff: StaffDep, form: FormDep) -> Response:
    services = request.app.state.container.services
    if not hasattr(services, "acknowledge"):
        return await _panel(request, staff, "Acknowledging pages is not available in this build.")
    try:
        await run_in_threadpool(services.acknowledge, page_id, staff.author.id, "web")
    except DomainError as exc:
        return await _panel(request, staff, exc.user_message)
    if form.get("back") and not request.headers.get("hx-request"):
        back = inbox_target(form.get("back"), "/inbox/oncall")
        return Response(status_code=303, headers={"Location": back})
    return _done(request)


def _local(value: Any, staff: Staff) -> datetime:
    if not isinstance(value, str) or not value:
        raise DomainError("override_time", "give both a start and an end")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DomainError("override_time", f"{value!r} is not a date and time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=staff.zone)
    return parsed


@router.post("/inbox/overrides")
async def add_override(request: Request, staff: StaffDep, form: FormDep) -> Response:
    if not staff.is_admin:
        return await _panel(request, staff, NOT_ADMIN, status=403)
    oncall = _oncall(request)
    try:
        start, end = _local(form.get("start"), staff), _local(form.get("end"), staff)
        await run_in_threadpool(
            oncall.add_override,
            str(form.get("rotation") or ""),
            str(form.get("staff") or ""),
            start,
            end,
            staff.author.id,
        )
    except DomainError as exc:
        return await _panel(request, staff, exc.user_message)
    return _done(request)


@router.post("/inbox/overrides/{override_id}/delete")
async def remove_override(
    override_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    if not staff.is_admin:
        return await _panel(request, staff, NOT_ADMIN, status=403)
    try:
        await run_in_threadpool(_oncall(request).remove_override, override_id)
    except DomainError as exc:
        return await _panel(request, staff, exc.user_message)
    return _done(request)
