"""Operations: liveness, readiness, metrics."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from bot.http.api.responses import errors
from bot.http.deps import ContainerDep
from bot.metrics import OUTBOX_DEPTH, OUTBOX_OLDEST

router = APIRouter(tags=["operations"])


class Readiness(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"description": "The database cannot be reached.", "model": Readiness}},
)
async def readyz(container: ContainerDep) -> JSONResponse:
    try:
        await run_in_threadpool(container.db.ping)
    except Exception:
        return JSONResponse({"status": "unavailable", "detail": "database unreachable"}, 503)
    return JSONResponse({"status": "ok"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        },
        **errors(401),
    },
)
async def metrics(request: Request, container: ContainerDep) -> Response:
    token = container.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            return JSONResponse({"detail": "authentication required"}, 401)

    def measure() -> tuple[int, float]:
        with container.services.reader() as uow:
            return uow.outbox.depth(container.clock.now())

    depth, oldest = await run_in_threadpool(measure)
    OUTBOX_DEPTH.set(depth)
    OUTBOX_OLDEST.set(oldest)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
