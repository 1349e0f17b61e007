"""Escalation pages in the staff API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from bot.http.api.objects import iso
from bot.http.api.responses import RowId, errors
from bot.http.deps import AuthorDep, ContainerDep
from routing.limits import checked_row_id
from storage.pages import NotificationRecord, PageRecord

router = APIRouter(prefix="/api/pages", tags=["pages"], responses=errors(401))


def page_json(page: PageRecord, notes: list[NotificationRecord]) -> dict[str, Any]:
    return {
        "id": page.id,
        "conversation_id": page.conversation_id,
        "client_id": page.client_id,
        "state": page.state,
        "step": page.step,
        "round": page.round,
        "policy": page.policy.get("name"),
        "opened_at": iso(page.opened_at),
        "acknowledged_by": page.acknowledged_by,
        "acknowledged_at": iso(page.acknowledged_at),
        "resolved_at": iso(page.resolved_at),
        "notifications": [
            {
                "staff": n.staff_id,
                "channel": n.channel,
                "step": n.step,
                "at": iso(n.sent_at or n.due_at),
                "state": n.state,
                "delivery": n.delivery,
            }
            for n in notes
            if n.state != "cancelled"
        ],
    }


@router.get("", responses=errors(400))
async def list_pages(
    container: ContainerDep,
    author: AuthorDep,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    before = None if cursor is None else checked_row_id(cursor, "cursor")

    def load() -> dict[str, Any]:
        with container.services.reader() as uow:
            pages = uow.pages.listing(state, limit + 1, before)
            notes = uow.pages.notifications_of([p.id for p in pages[:limit]])
        items = [page_json(p, notes[p.id]) for p in pages[:limit]]
        more = len(pages) > limit
        return {"items": items, "next_cursor": str(pages[limit - 1].id) if more else None}

    return await run_in_threadpool(load)


@router.get("/{page_id}", responses=errors(404))
async def get_page(page_id: RowId, container: ContainerDep, author: AuthorDep) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with container.services.reader() as uow:
            page = uow.pages.get(page_id)
            if page is None:
                raise HTTPException(404, detail=f"no page {page_id}")
            return page_json(page, uow.pages.notifications_of([page.id])[page.id])

    return await run_in_threadpool(load)


@router.post("/{page_id}/ack", responses=errors(400, 404, 409))
async def acknowledge(page_id: RowId, container: ContainerDep, author: AuthorDep) -> dict[str, Any]:
    await run_in_threadpool(container.services.acknowledge, page_id, author.id, "api")
    return await get_page(page_id, container, author)
