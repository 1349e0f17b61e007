"""The staff API over on-call (docs/CONTRACT.md, "Staff API"): who is on call, and overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from bot.http.api.responses import RowId, errors
from bot.http.deps import AdminDep, AuthorDep, ContainerDep
from bot.usecases.oncall import OnCallService
from routing.errors import DomainError

router = APIRouter(tags=["oncall"], responses=errors(401))


async def get_oncall(request: Request, container: ContainerDep) -> OnCallService:
    return container.oncall


OnCallDep = Annotated[OnCallService, Depends(get_oncall)]


class OverrideBody(BaseModel):
    rotation: str = Field(min_length=1, max_length=64)
    staff: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime


def _instant(at: str | None) -> datetime | None:
    """`?at=` as a time, or the same 400 the domain gives for a time it cannot take."""
    if at is None:
        return None
    try:
        return datetime.fromisoformat(at)
    except ValueError as exc:
        raise DomainError("bad_time", f"at: {at!r} is not an ISO 8601 date and time") from exc


@router.get("/api/oncall", responses=errors(400))
async def who_is_on_call(
    oncall: OnCallDep,
    author: AuthorDep,
    at: Annotated[str | None, Query(max_length=64, description="ISO 8601 with offset")] = None,
) -> dict[str, Any]:
    return await run_in_threadpool(oncall.who, _instant(at))


@router.get("/api/overrides", responses=errors(400))
async def list_overrides(
    oncall: OnCallDep,
    author: AuthorDep,
    rotation: str | None = None,
    staff: str | None = None,
    upcoming: Annotated[bool, Query(description="only overrides not over yet")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: oncall.list_overrides(
            limit=limit, cursor=cursor, rotation=rotation, staff=staff, upcoming=upcoming
        )
    )


@router.post("/api/overrides", status_code=201, responses=errors(400, 403, 413))
async def add_override(body: OverrideBody, oncall: OnCallDep, author: AdminDep) -> JSONResponse:
    record = await run_in_threadpool(
        oncall.add_override, body.rotation, body.staff, body.start, body.end, author.id
    )
    return JSONResponse(oncall.override_json(record), status_code=201)


@router.delete("/api/overrides/{override_id}", status_code=204, responses=errors(403, 404))
async def remove_override(override_id: RowId, oncall: OnCallDep, author: AdminDep) -> Response:
    await run_in_threadpool(oncall.remove_override, override_id)
    return Response(status_code=204)
