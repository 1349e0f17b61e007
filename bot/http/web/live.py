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
from starlette.responses import StreamingResponse

from bot.container import Container
from bot.http.web.guard import StaffDep

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 30.0


def fingerprint(container: Container, conversation_id: int | None) -> str:
    with container.services.uow() as uow:
        return uow.live.fingerprint(conversation_id)


async def live_since(request: Request, conversation_id: int | None = None) -> str:
    """The fingerprint a page is rendered at, taken before its data is read: the page's
    stream starts from it (`?since=`), so a change made between the read and the stream's
    first poll is signalled rather than taken as the starting point."""
    return await run_in_threadpool(fingerprint, request.app.state.container, conversation_id)


async def _stream(
    request: Request, container: Container, conversation_id: int | None, since: str | None
) -> AsyncIterator[str]:
    yield "retry: 1500\n\n"
    # What the page already shows: the last event it heard of, else what it was rendered at.
    last = request.headers.get("last-event-id") or since
    started = beat = time.monotonic()
    ready = False
    while time.monotonic() - started < STREAM_SECONDS:
        token = await run_in_threadpool(fingerprint, container, conversation_id)
        if not ready:
            ready = True
            yield f"id: {token}\nevent: ready\ndata: {token}\n\n"
            if last is not None and token != last:
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
        _stream(request, container, conversation, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
