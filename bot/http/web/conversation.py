"""`/inbox/conversations/{id}`: the timeline, and reply, note, assign, close and reopen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from bot.container import Container
from bot.http.api.responses import RowId
from bot.http.sessions import Staff
from bot.http.web.canned import canned_replies
from bot.http.web.contact_card import contact_card
from bot.http.web.guard import FormDep, StaffDep
from bot.http.web.inbox import CHANNEL_LABELS
from bot.http.web.inbox_query import inbox_queries
from bot.http.web.live import live_since
from bot.http.web.templating import render
from bot.http.web.timeline import build_timeline
from routing.errors import DomainError, MalformedPayload
from routing.limits import checked_row_id
from storage.conversations import MessageView

router = APIRouter(include_in_schema=False)
MAX_TEXT = 10_000
# Messages shown at once; older ones are a link away, so that a conversation of thousands of
# notes is not a page of megabytes re-fetched on every live change.
TIMELINE_PAGE = 200
# What shows the messages, so marks them read: the page, and its timeline re-read live.
READS = ("conversation.html", "_timeline.html")


def load_conversation(
    container: Container, conversation_id: int, before: int | None = None
) -> dict[str, Any] | None:
    """The conversation page's context: its newest TIMELINE_PAGE messages before message
    `before` (the latest if None), with the commitment and page events of that stretch."""
    with container.services.reader() as uow:
        view = uow.conversations.get(conversation_id)
        if view is None:
            return None
        history = uow.commitments.history(view.id)
        window = uow.conversations.message_window(view.id, last=TIMELINE_PAGE, before=before)
        pages = inbox_queries(uow).pages(conversation_id=view.id)
        activity = uow.conversations.events(view.id)
        # An unknown sender's page offers "link to client" (bot/http/web/triage.py).
        known = uow.contacts.of_client(None, 500) if view.client_id is None else []
        card = contact_card(uow, view)
    names = container.services.staff_names
    timeline = build_timeline(window.messages, history, pages, names, activity)
    if window.earlier and window.messages:  # earlier events go with the earlier messages
        timeline = [i for i in timeline if i.at >= window.messages[0].created_at]
    if window.until is not None:
        timeline = [i for i in timeline if i.at < window.until]
    return {
        "conv": view,
        "commitment": history[-1][0] if history else None,
        "timeline": timeline,
        "earlier": str(window.messages[0].id) if window.earlier and window.messages else None,
        "before": before,
        "open_pages": [p for p in pages if p.state == "open"],
        "newest_shown": window.messages[-1].id if window.messages else None,
        "staff_names": names,
        "channel_labels": CHANNEL_LABELS,
        # Times also show as the client reads them, where their clock differs.
        "client_zone": container.directory.terms_of(view.client_id).zone,
        "link_clients": {c.id: c.name for c in container.directory.clients.values()},
        "link_contacts": known,
        "card": card,
    }


async def _page(request: Request, staff: Staff, conversation_id: int, template: str) -> Response:
    container: Container = request.app.state.container
    try:  # `?before=` from our own "earlier messages" link; anything else shows the latest
        before = checked_row_id(request.query_params.get("before"), "before")
    except MalformedPayload:
        before = None
    # The whole page starts a live stream; its fragments (head, timeline) do not.
    # (Without the reader's part: this page's own reading moves it, and is no change to show.)
    since = await live_since(request, conversation_id) if template == "conversation.html" else ""
    context = await run_in_threadpool(load_conversation, container, conversation_id, before)
    if context is None:
        return render(
            request,
            "not_found.html",
            staff,
            {"what": f"conversation {conversation_id}"},
            status_code=404,
        )
    if template == "conversation.html":  # the `/` picker's replies, filled for this one
        canned = canned_replies(container)
        filled = await run_in_threadpool(canned.for_conversation, context["conv"], staff.author.id)
        context["canned"] = [{"id": r.id, "title": r.title, "text": r.text} for r in filled]
    if template in READS and context["newest_shown"] is not None:
        # Shown, so read: for this staff member alone, up to the newest message on screen.
        services = container.services
        newest: int = context["newest_shown"]
        await run_in_threadpool(services.mark_read, conversation_id, staff.author.id, newest)
    return render(request, template, staff, {**context, "live_since": since})


@router.get("/inbox/conversations/{conversation_id}")
async def conversation(conversation_id: RowId, request: Request, staff: StaffDep) -> Response:
    return await _page(request, staff, conversation_id, "conversation.html")


@router.get("/inbox/conversations/{conversation_id}/head")
async def conversation_head(conversation_id: RowId, request: Request, staff: StaffDep) -> Response:
    return await _page(request, staff, conversation_id, "_conversation_head.html")


@router.get("/inbox/conversations/{conversation_id}/timeline")
async def conversation_timeline(
    conversation_id: RowId, request: Request, staff: StaffDep
) -> Response:
    return await _page(request, staff, conversation_id, "_timeline.html")


def _text(form: Any) -> str:
    value = form.get("text")
    return value.strip() if isinstance(value, str) else ""


async def _act(
    request: Request, staff: Staff, conversation_id: int, action: Callable[[], object]
) -> Response:
    """Run one staff action; htmx gets 204 and a change event, a plain form a redirect."""
    back = f"/inbox/conversations/{conversation_id}"
    try:
        await run_in_threadpool(action)
    except DomainError as exc:
        if request.headers.get("hx-request"):
            response = render(request, "_flash.html", staff, {"error": exc.user_message})
            response.headers["HX-Retarget"] = "#flash"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return render(
            request, "error.html", staff, {"error": exc.user_message, "back": back}, exc.status
        )
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Trigger": "pl:changed"})
    return Response(status_code=303, headers={"Location": back})


def _too_long(request: Request, staff: Staff, text: str) -> Response | None:
    if not text:
        return _invalid(request, staff, "Write something first.")
    if len(text) > MAX_TEXT:
        return _invalid(request, staff, f"At most {MAX_TEXT} characters.")
    return None


def _invalid(request: Request, staff: Staff, message: str) -> Response:
    response: HTMLResponse = render(request, "_flash.html", staff, {"error": message}, 422)
    if request.headers.get("hx-request"):
        response.status_code = 200
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


@router.post("/inbox/conversations/{conversation_id}/reply")
async def reply(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    text = _text(form)
    if (bad := _too_long(request, staff, text)) is not None:
        return bad
    chosen = form.get("channel")  # the composer's select, when the contact has several
    channel = chosen if isinstance(chosen, str) and chosen else None
    services = request.app.state.container.services
    sent: list[MessageView] = []
    response = await _act(
        request,
        staff,
        conversation_id,
        lambda: sent.append(services.reply_on(conversation_id, text, staff.author, channel)),
    )
    if sent and sent[0].conversation_id != conversation_id and request.headers.get("hx-request"):
        # Gone out in their conversation on the other channel: say where, with a link.
        # (X-Form-Sent: inbox.js empties the composer as after a 204.)
        context = {"sent": sent[0], "channel_labels": CHANNEL_LABELS}
        notice = render(request, "_flash.html", staff, context)
        notice.headers.update(
            {
                "HX-Retarget": "#flash",
                "HX-Reswap": "innerHTML",
                "HX-Trigger": "pl:changed",
                "X-Form-Sent": "1",
            }
        )
        return notice
    return response


@router.post("/inbox/conversations/{conversation_id}/notes")
async def note(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    text = _text(form)
    if (bad := _too_long(request, staff, text)) is not None:
        return bad
    services = request.app.state.container.services
    return await _act(
        request,
        staff,
        conversation_id,
        lambda: services.add_note(conversation_id, text, staff.author),
    )


@router.post("/inbox/conversations/{conversation_id}/assign")
async def assign(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    value = form.get("staff")
    target = value if isinstance(value, str) and value else None
    services = request.app.state.container.services
    return await _act(
        request,
        staff,
        conversation_id,
        lambda: services.assign(conversation_id, target, staff.author),
    )


@router.post("/inbox/conversations/{conversation_id}/close")
async def close(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    services = request.app.state.container.services
    return await _act(
        request, staff, conversation_id, lambda: services.close(conversation_id, staff.author)
    )


@router.post("/inbox/conversations/{conversation_id}/reopen")
async def reopen(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    services = request.app.state.container.services
    return await _act(
        request, staff, conversation_id, lambda: services.reopen(conversation_id, staff.author)
    )
