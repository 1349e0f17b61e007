"""Telegram's webhook: verified by its secret token before anything is read."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.channels.telegram.bot import telegram_of
from bot.metrics import WEBHOOK_SECONDS, WEBHOOKS
from routing.errors import InvalidSignature, MalformedPayload

router = APIRouter(tags=["webhooks"], include_in_schema=False)
log = logging.getLogger(__name__)


def _outcome(outcome: str, started: float) -> None:
    WEBHOOKS.labels("telegram", outcome).inc()
    WEBHOOK_SECONDS.labels("telegram").observe(time.perf_counter() - started)


@router.post("/webhooks/telegram")
async def telegram_update(request: Request) -> Response:
    started = time.perf_counter()
    # The Container (bot/http/app.py), read as what holds the chat apps: no import of the
    # web layer here.
    bot = telegram_of(request.app.state.container)
    if bot is None:
        _outcome("channel_off", started)
        return JSONResponse({"detail": "the Telegram channel is not configured"}, 503)
    body = await request.body()
    try:
        bot.adapter.verify(str(request.url), request.headers, body)
    except InvalidSignature:
        _outcome("forged", started)
        return JSONResponse({"detail": "invalid secret token"}, 403)
    try:
        update = bot.parse(body)
    except MalformedPayload as exc:
        log.info("Telegram update refused as malformed: %s", exc)
        _outcome("malformed", started)
        return JSONResponse({"detail": str(exc)}, 400)
    if not bot.ready:
        _outcome("unavailable", started)
        return JSONResponse({"detail": "the Telegram bot is starting"}, 503)
    try:
        await bot.process(update)
    except MalformedPayload as exc:  # the database refused what the webhook let through
        _outcome("malformed", started)
        return JSONResponse({"detail": str(exc)}, 400)
    except Exception:
        # Nothing was kept (or the claim was released): Telegram delivers it again later.
        _outcome("unavailable", started)
        return JSONResponse({"detail": "temporarily unable to accept updates"}, 503)
    _outcome("accepted", started)
    return Response(status_code=200)
