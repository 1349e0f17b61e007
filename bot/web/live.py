"""`/inbox/events`: server-sent events that tell open pages something changed.

Routing runs in the worker, perhaps another process, so each stream polls the database once a
second for a cheap fingerprint of what the inbox shows (newest message, latest conversation
change, commitment events, pages; for a conversation page also its messages' delivery
states). When it changes, the stream sends `changed` and the page re-reads its fragments.
The fingerprint is the event id, so a reconnecting browser (Last-Event-ID) hears at once of
what it missed. A stream ends itself after `STREAM_SECONDS`; EventSource reconnects.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from starlette.responses import StreamingResponse

from bot.container import Container
from bot.web.guard import StaffDep
from storage.tables import CommitmentEventRow, ConversationRow, MessageRow, PageRow

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 30.0


def fingerprint(container: Container, conversation_id: int | None) -> str:
    with container.db.session() as session:
        parts: list[object] = [
            session.scalar(select(func.max(MessageRow.id))),
            session.scalar(
                select(func.max(ConversationRow.updated_at)).where(ConversationRow.status == "open")
            ),
            session.scalar(
                select(func.max(ConversationRow.updated_at)).where(
                    ConversationRow.status == "closed"
                )
            ),
            session.scalar(select(func.max(CommitmentEventRow.id))),
            *session.execute(
                select(
                    func.max(PageRow.id),
                    func.max(PageRow.acknowledged_at),
                    func.max(PageRow.resolved_at),
                    func.max(PageRow.step),
                )
            ).one(),
        ]
        if conversation_id is not None:
            parts.extend(
                session.execute(
                    select(MessageRow.id, MessageRow.delivery)
                    .where(
                        MessageRow.conversation_id == conversation_id,
                        MessageRow.delivery.is_not(None),
                    )
                    .order_by(MessageRow.id)
                ).all()
            )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


async def _stream(
    request: Request, container: Container, conversation_id: int | None
) -> AsyncIterator[str]:
    yield "retry: 1500\n\n"
    last = request.headers.get("last-event-id")
    started = beat = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        token = await run_in_threadpool(fingerprint, container, conversation_id)
        if last is None:
            last = token
            yield f"id: {token}\nevent: ready\ndata: {token}\n\n"
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
) -> StreamingResponse:
    container: Container = request.app.state.container
    return StreamingResponse(
        _stream(request, container, conversation),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
