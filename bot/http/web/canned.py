"""`/inbox/canned`: the canned replies staff insert with `/` in the reply composer.

Everyone signed in sees the list; only admin accounts add, edit or delete (a canned reply goes
out to clients under the name of whoever inserts it). Placeholders: bot/usecases/canned.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.container import Container
from bot.http.api.responses import RowId
from bot.http.sessions import Staff
from bot.http.web.guard import FormDep, StaffDep
from bot.http.web.templating import render
from bot.usecases.canned import MAX_TEXT, MAX_TITLE, PLACEHOLDERS, CannedReplies
from routing.errors import DomainError

router = APIRouter(include_in_schema=False)
NOT_ADMIN = "Only admin accounts may change the canned replies."
PAGE = "/inbox/canned"


def canned_replies(container: Container) -> CannedReplies:
    """Over the container's units of work; cheap, so made per request."""
    return CannedReplies(container.services.uow, container.directory, container.clock)


async def _page(
    request: Request,
    staff: Staff,
    error: str | None = None,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> Response:
    canned = canned_replies(request.app.state.container)
    replies = await run_in_threadpool(canned.all)
    context = {
        "replies": replies,
        "error": error,
        "placeholders": PLACEHOLDERS,
        "max_title": MAX_TITLE,
        "max_text": MAX_TEXT,
        "form": form or {},
    }
    return render(request, "canned.html", staff, context, status_code=status)


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.get(PAGE)
async def canned_page(request: Request, staff: StaffDep) -> Response:
    return await _page(request, staff)


async def _change(request: Request, staff: Staff, form: Any, action: Any) -> Response:
    if not staff.is_admin:
        return await _page(request, staff, NOT_ADMIN, status=403)
    try:
        await run_in_threadpool(action)
    except DomainError as exc:
        kept = {"title": _field(form, "title"), "text": _field(form, "text")}
        return await _page(request, staff, exc.user_message, status=exc.status, form=kept)
    return Response(status_code=303, headers={"Location": PAGE})


@router.post(PAGE)
async def add_canned(request: Request, staff: StaffDep, form: FormDep) -> Response:
    canned = canned_replies(request.app.state.container)
    title, text = _field(form, "title"), _field(form, "text")
    return await _change(request, staff, form, lambda: canned.add(title, text, staff.author.id))


@router.post(PAGE + "/{reply_id}")
async def edit_canned(
    reply_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    canned = canned_replies(request.app.state.container)
    title, text = _field(form, "title"), _field(form, "text")
    return await _change(request, staff, form, lambda: canned.edit(reply_id, title, text))


@router.post(PAGE + "/{reply_id}/delete")
async def delete_canned(
    reply_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    canned = canned_replies(request.app.state.container)
    return await _change(request, staff, form, lambda: canned.delete(reply_id))
