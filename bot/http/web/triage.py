"""`/inbox/conversations/{id}/link`: an unknown sender's conversation linked to a client from
its page (the form in _conversation_head.html): a new contact of a client (client and name),
or another address of an existing contact. The rules are bot/usecases/contacts.py's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bot.http.api.responses import RowId
from bot.http.web.conversation import _act, _invalid
from bot.http.web.guard import FormDep, StaffDep
from routing.errors import MalformedPayload
from routing.limits import checked_row_id

router = APIRouter(include_in_schema=False)


@router.post("/inbox/conversations/{conversation_id}/link")
async def link(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    def field(name: str) -> str | None:
        value = form.get(name)
        return value.strip() or None if isinstance(value, str) else None

    contact = field("contact")
    try:
        contact_id = checked_row_id(contact, "contact") if contact is not None else None
    except MalformedPayload:
        return _invalid(request, staff, "Pick a contact from the list.")
    client_id = None if contact_id is not None else field("client")
    name = None if contact_id is not None else field("name")
    services = request.app.state.container.services
    return await _act(
        request,
        staff,
        conversation_id,
        lambda: services.link(
            conversation_id, staff.author, client_id=client_id, name=name, contact_id=contact_id
        ),
    )
