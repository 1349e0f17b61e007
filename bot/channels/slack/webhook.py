"""Slack's one URL for events, interactivity and slash commands.

The signature is checked here first, over the raw bytes, with slack_sdk's SignatureVerifier: an
unsigned or badly signed request is 401 whatever its body, and nothing parses it. A signed body
Bolt could not read is 400 with one log line. Then Bolt (which checks the signature again) answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from bot.channels.slack.bot import slack_of
from bot.metrics import WEBHOOK_SECONDS, WEBHOOKS
from routing.limits import MAX_DEPTH

router = APIRouter(tags=["webhooks"], include_in_schema=False)
log = logging.getLogger(__name__)


def _signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """slack_sdk's check over the raw bytes, before anything reads them. A timestamp that is no
    number, or a body that is no UTF-8 (which Slack never sends), is as good as unsigned."""
    try:
        return verifier.is_valid_request(body, dict(headers))
    except (ValueError, UnicodeDecodeError):
        return False


def _unreadable(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not read a signed body (it would raise, a 500), or None. Read as Bolt
    reads it (slack_bolt.request.internals.parse_body)."""
    try:
        parsed = parse_body(body.decode("utf-8"), content_type)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return "the body is not a Slack payload"
    if not isinstance(parsed, dict):
        return "the body is not a Slack payload"
    if _depth(parsed) > MAX_DEPTH:
        return "the payload is nested too deeply"
    return None


def _depth(value: Any) -> int:
    """Nesting depth without recursion, stopping once it passes MAX_DEPTH."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return depth
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _outcome(status: int) -> str:
    if status == 401:
        return "forged"
    if status < 300:
        return "accepted"
    return "malformed" if status < 500 else "unavailable"


@router.post("/webhooks/slack")
async def slack_request(request: Request) -> Response:
    started = time.perf_counter()
    # The Container (bot/http/app.py), read as what holds the chat apps: no import of the
    # web layer here.
    bot = slack_of(request.app.state.container)
    if bot is None:
        WEBHOOKS.labels("slack", "channel_off").inc()
        return JSONResponse({"detail": "the Slack channel is not configured"}, 503)
    body = await request.body()
    if not _signed_by_slack(bot.verifier, body, request.headers):
        WEBHOOKS.labels("slack", "forged").inc()
        return JSONResponse({"detail": "invalid signature"}, 401)
    problem = _unreadable(body, request.headers.get("content-type"))
    if problem is not None:
        log.info("Slack request refused as malformed: %s", problem)
        WEBHOOKS.labels("slack", "malformed").inc()
        return JSONResponse({"detail": problem}, 400)
    response: Response = await bot.handler.handle(request)
    WEBHOOKS.labels("slack", _outcome(response.status_code)).inc()
    WEBHOOK_SECONDS.labels("slack").observe(time.perf_counter() - started)
    return response
