"""`/inbox/events`: server-sent events that tell open pages something changed.

Routing runs in the worker, perhaps another process, so each stream polls the database once a
second for a cheap fingerprint of what the inbox shows (storage/live.py: newest message,
latest conversation change, commitment events, pages; for a conversation page also its
messages' delivery states). When it changes, the stream sends `changed` and the page
re-reads its fragments. The fingerprint is the event id, so a reconnecting browser
(Last-Event-ID) hears at once of what it missed. A stream ends itself after
`STREAM_SECONDS`; EventSource reconnects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.responses import StreamingResponse

from bot.container import Container
from bot.http.sessions import Staff
from bot.http.web.guard import StaffDep
from bot.http.web.inbox_query import page_about
from storage.notices import Notice, Watermark

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 30.0


def fingerprint(
    container: Container, conversation_id: int | None, staff_id: str | None = None
) -> str:
    """What everyone's inbox shows, then (after "-") how far this staff member has read:
    their markers move their unread rows and counts, and nobody else's."""
    with container.services.reader() as uow:
        shared = uow.live.fingerprint(conversation_id)
        if staff_id is None:
            return shared
        return f"{shared}-{uow.read_markers.progress(staff_id):x}"


def _same(token: str, since: str) -> bool:
    """A page rendered without the reader's part (`live_since` with no staff) compares the
    shared part only, so that its stream does not start with a change that is none."""
    return token == since if "-" in since else token.split("-", 1)[0] == since


async def live_since(
    request: Request, conversation_id: int | None = None, staff_id: str | None = None
) -> str:
    """The fingerprint a page is rendered at, taken before its data is read: the page's
    stream starts from it (`?since=`), so a change made between the read and the stream's
    first poll is signalled rather than taken as the starting point."""
    container = request.app.state.container
    return await run_in_threadpool(fingerprint, container, conversation_id, staff_id)


async def _stream(
    request: Request,
    container: Container,
    staff_id: str,
    conversation_id: int | None,
    since: str | None,
) -> AsyncIterator[str]:
    yield "retry: 1500\n\n"
    # What the page already shows: the last event it heard of, else what it was rendered at.
    last = request.headers.get("last-event-id") or since
    started = beat = time.monotonic()
    ready = False
    while time.monotonic() - started < STREAM_SECONDS:
        token = await run_in_threadpool(fingerprint, container, conversation_id, staff_id)
        if not ready:
            ready = True
            yield f"id: {token}\nevent: ready\ndata: {token}\n\n"
            if last is not None and not _same(token, last):
                yield f"id: {token}\nevent: changed\ndata: {token}\n\n"
            last = token
        elif token != last:
            last = token
            yield f"id: {token}\nevent: changed\ndata: {token}\n\n"
        elif time.monotonic() - beat > HEARTBEAT_SECONDS:
            beat = time.monotonic()
            yield ": still here\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)


@router.get("/inbox/events")
async def events(
    request: Request,
    staff: StaffDep,
    conversation: Annotated[int | None, Query(ge=1)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    container: Container = request.app.state.container
    return StreamingResponse(
        _stream(request, container, staff.author.id, conversation, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# --- what the tab's title, its icon and desktop notifications say ------------------------------

NOTICE_TEXT = 200  # characters of a message in a notification


def _notice_json(notice: Notice) -> dict[str, str | int]:
    who = (
        f"{notice.contact_name} · {notice.client_name}"
        if notice.contact_name
        else notice.client_name
    )
    if notice.kind == "page":
        title, body = f"Page: {who}", page_about(notice.text).text or "You are paged."
    elif notice.kind == "at_risk":
        title, body = f"At risk: {who}", notice.text
    else:
        title, body = who, notice.text
    if len(body) > NOTICE_TEXT:
        body = body[: NOTICE_TEXT - 1] + "…"
    return {
        "key": notice.key,
        "kind": notice.kind,
        "title": title,
        "body": body,
        "conversation": notice.conversation_id,
        "url": f"/inbox/conversations/{notice.conversation_id}",
    }


def attention(container: Container, staff: Staff, after: str | None) -> dict[str, object]:
    """The count for the tab (unread or at risk, storage/read_markers.py) and, past `after`,
    what is new for this staff member; with no (or no valid) `after`, only where to start."""
    staff_id = staff.author.id
    notices: list[Notice] = []
    with container.services.reader() as uow:
        count = uow.read_markers.attention_count(staff_id)
        try:
            mark = Watermark.decode(after) if after else None
        except ValueError:
            mark = None
        if mark is None:
            mark = uow.notices.now_mark(staff_id)
        else:
            notices, mark = uow.notices.since(staff_id, mark)
    return {"count": count, "after": mark.encode(), "notices": [_notice_json(n) for n in notices]}


@router.get("/inbox/attention")
async def attention_now(
    request: Request,
    staff: StaffDep,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """Read by every inbox page on load and on each `changed` event (static/inbox.js)."""
    container: Container = request.app.state.container
    body = await run_in_threadpool(attention, container, staff, after)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
