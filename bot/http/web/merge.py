"""`/inbox/contacts/{id}/merge`: one person across channels, from a conversation's page. Pick
the contact of the same client to merge into, confirm, and go back to the conversation, now
of the one contact. The rules and refusals are bot/usecases/contacts.py's (merge_contacts);
a refusal shows its message in the page's flash area and changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.http.api.responses import RowId
from bot.http.sessions import Staff
from bot.http.web.guard import FormDep, StaffDep
from bot.http.web.inbox import CHANNEL_LABELS
from bot.http.web.templating import render
from routing.errors import DomainError, MalformedPayload
from routing.limits import checked_row_id

router = APIRouter(include_in_schema=False)
# The most contacts of one client offered to merge into.
CANDIDATES = 500


def _row_id(value: object, name: str) -> int | None:
    try:
        return checked_row_id(value if isinstance(value, str) and value else None, name)
    except MalformedPayload:
        return None


def _context(request: Request, contact_id: int, into_id: int | None) -> dict[str, Any]:
    """The source contact, the contacts it may merge into, and the chosen one if any."""
    services = request.app.state.container.services
    contact = services.contact(contact_id)
    candidates = (
        [c for c in services.contacts(contact.client_id, CANDIDATES) if c.id != contact_id]
        if contact.client_id is not None
        else []
    )
    # The chosen contact as given (even itself: the use case says why not).
    into = services.contact(into_id) if into_id is not None else None
    return {
        "contact": contact,
        "candidates": candidates,
        "into": into,
        "channel_labels": CHANNEL_LABELS,
    }


async def _render(
    request: Request,
    staff: Staff,
    contact_id: int,
    into_id: int | None,
    back: int | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        context = await run_in_threadpool(_context, request, contact_id, into_id)
    except DomainError as exc:  # no such contact (any more)
        back_to = f"/inbox/conversations/{back}" if back is not None else "/inbox"
        context = {"error": exc.user_message, "back": back_to}
        return render(request, "error.html", staff, context, exc.status)
    context.update({"back": back, "error": error})
    return render(request, "merge.html", staff, context, status)


@router.get("/inbox/contacts/{contact_id}/merge")
async def merge_page(contact_id: RowId, request: Request, staff: StaffDep) -> Response:
    query = request.query_params
    back = _row_id(query.get("conversation"), "conversation")
    return await _render(request, staff, contact_id, _row_id(query.get("into"), "into"), back)


@router.post("/inbox/contacts/{contact_id}/merge")
async def merge(contact_id: RowId, request: Request, staff: StaffDep, form: FormDep) -> Response:
    into_id = _row_id(form.get("into"), "into")
    back = _row_id(form.get("conversation"), "conversation")
    if into_id is None:
        return await _render(
            request, staff, contact_id, None, back, "Pick a contact from the list.", 422
        )
    services = request.app.state.container.services
    try:
        await run_in_threadpool(services.merge_contacts, contact_id, into_id, staff.author)
    except DomainError as exc:
        return await _render(
            request, staff, contact_id, into_id, back, exc.user_message, exc.status
        )
    # Back to the conversation the merge started from: now the one contact's.
    location = f"/inbox/conversations/{back}" if back is not None else "/inbox"
    return Response(status_code=303, headers={"Location": location})
