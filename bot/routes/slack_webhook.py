"""Slack's one URL for events, interactivity and slash commands: Bolt verifies and answers."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.deps import ContainerDep
from bot.metrics import WEBHOOK_SECONDS, WEBHOOKS
from bot.slack_app import slack_of

router = APIRouter(tags=["webhooks"], include_in_schema=False)


def _outcome(status: int) -> str:
    if status == 401:
        return "forged"
    if status < 300:
        return "accepted"
    return "malformed" if status < 500 else "unavailable"


@router.post("/webhooks/slack")
async def slack_request(request: Request, container: ContainerDep) -> Response:
    started = time.perf_counter()
    bot = slack_of(container)
    if bot is None:
        WEBHOOKS.labels("slack", "channel_off").inc()
        return JSONResponse({"detail": "the Slack channel is not configured"}, 503)
    response: Response = await bot.handler.handle(request)
    WEBHOOKS.labels("slack", _outcome(response.status_code)).inc()
    WEBHOOK_SECONDS.labels("slack").observe(time.perf_counter() - started)
    return response
