"""iCalendar feeds (docs/CONTRACT.md, "Calendar feeds"): no login; the token in the URL is the
key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from bot.http.api.oncall import OnCallDep
from bot.http.api.responses import errors
from bot.http.deps import ContainerDep
from bot.usecases.feeds import FeedKind, rotation_feed, staff_feed, token_matches

router = APIRouter(
    prefix="/calendars",
    tags=["calendars"],
    responses={
        200: {"description": "An iCalendar feed.", "content": {"text/calendar": {}}},
        **errors(403, 404),
    },
)

TokenQuery = Annotated[str | None, Query(max_length=128)]
MEDIA_TYPE = "text/calendar; charset=utf-8"


def _check(container: ContainerDep, kind: FeedKind, ident: str, token: str | None) -> None:
    secret = container.settings.secret_key
    if secret is None:
        raise HTTPException(404, detail="calendar feeds are off: PARTNERLINE_SECRET_KEY is not set")
    # The token is checked before the id, so a wrong token says nothing about which ids exist.
    if not token_matches(secret.get_secret_value(), kind, ident, token):
        raise HTTPException(403, detail="invalid or missing feed token")


def _ics(body: bytes, name: str) -> Response:
    return Response(
        body,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{name}.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )


@router.get("/staff/{staff_id}.ics", response_class=Response)
async def staff_calendar(
    staff_id: str, container: ContainerDep, oncall: OnCallDep, token: TokenQuery = None
) -> Response:
    _check(container, "staff", staff_id, token)
    if staff_id not in oncall.names:
        raise HTTPException(404, detail="no such calendar")
    body = await run_in_threadpool(staff_feed, oncall, staff_id, container.clock.now())
    return _ics(body, f"oncall-{staff_id}")


@router.get("/rotations/{rotation_id}.ics", response_class=Response)
async def rotation_calendar(
    rotation_id: str, container: ContainerDep, oncall: OnCallDep, token: TokenQuery = None
) -> Response:
    _check(container, "rotation", rotation_id, token)
    if rotation_id not in oncall.rotations:
        raise HTTPException(404, detail="no such calendar")
    body = await run_in_threadpool(rotation_feed, oncall, rotation_id, container.clock.now())
    return _ics(body, f"oncall-{rotation_id}")
