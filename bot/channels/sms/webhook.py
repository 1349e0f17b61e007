"""Twilio's webhooks: inbound SMS and delivery status. Verified before anything is read."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from adapters.sms import TwilioForm, TwilioSmsAdapter, empty_twiml
from adapters.voice import ACK_DIGIT, page_call_twiml, said_twiml
from bot.container import Container, ContainerDep
from bot.metrics import WEBHOOK_SECONDS, WEBHOOKS
from routing.errors import DomainError, InvalidSignature, MalformedPayload
from routing.limits import STAFF_ID, checked_id, checked_row_id
from routing.messages import Channel
from storage.inbound import inbound_payload

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"], include_in_schema=False)
log = logging.getLogger(__name__)
TWIML = "application/xml"


def _outcome(channel: str, outcome: str, started: float) -> None:
    if outcome == "malformed":  # one line; the reason is in the 400's detail
        log.info("Twilio %s webhook refused as malformed", channel)
    WEBHOOKS.labels(channel, outcome).inc()
    WEBHOOK_SECONDS.labels(channel).observe(time.perf_counter() - started)


class _Refused(Exception):
    """A webhook answered before it was read: the channel is off or the signature is bad."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def _verified(
    request: Request, container: ContainerDep, label: str, started: float
) -> tuple[TwilioSmsAdapter, bytes, TwilioForm]:
    """The body of a request Twilio really sent and its form, or _Refused with the answer to
    give."""
    adapter = container.sms
    if adapter is None:
        _outcome(label, "channel_off", started)
        raise _Refused(JSONResponse({"detail": "the Twilio channels are not configured"}, 503))
    body = await request.body()
    try:
        form = adapter.verified_form(public_url_for(request, container), request.headers, body)
    except InvalidSignature:
        _outcome(label, "forged", started)
        raise _Refused(JSONResponse({"detail": "invalid signature"}, 403)) from None
    return adapter, body, form


@router.post("/sms")
async def inbound_sms(request: Request, container: ContainerDep) -> Response:
    started = time.perf_counter()
    try:
        adapter, body, form = await _verified(request, container, "sms", started)
    except _Refused as refused:
        return refused.response
    try:
        messages = adapter.parse(body, now=container.clock.now(), form=form)
    except MalformedPayload as exc:
        _outcome("sms", "malformed", started)
        return JSONResponse({"detail": str(exc)}, 400)
    for msg in messages:
        try:
            await container.inbound.submit(
                channel=Channel.SMS,
                key=msg.provider_id,
                kind="message",
                payload=inbound_payload(msg),
                received_at=msg.received_at,
            )
        except MalformedPayload as exc:  # the database refused what parse let through
            _outcome("sms", "malformed", started)
            return JSONResponse({"detail": str(exc)}, 400)
        except Exception:
            # Not stored: say so, and Twilio will try again later.
            _outcome("sms", "unavailable", started)
            return JSONResponse({"detail": "temporarily unable to accept messages"}, 503)
    _outcome("sms", "accepted", started)
    return Response(empty_twiml(), media_type=TWIML)


@router.post("/status")
async def delivery_status(request: Request, container: ContainerDep) -> Response:
    started = time.perf_counter()
    try:
        adapter, body, form = await _verified(request, container, "sms_status", started)
    except _Refused as refused:
        return refused.response
    try:
        update = adapter.parse_status(body, form)
    except MalformedPayload as exc:
        _outcome("sms_status", "malformed", started)
        return JSONResponse({"detail": str(exc)}, 400)
    changed = await run_in_threadpool(
        container.services.record_delivery_status,
        Channel.SMS,
        update.provider_id,
        update.delivery,
        update.error_code,
    )
    _outcome("sms_status", "applied" if changed else "ignored", started)
    return Response(status_code=204)


@router.post("/voice")
async def voice(request: Request, container: ContainerDep) -> Response:
    """TwiML for a paging call, and the <Gather> result: 4 acknowledges as the called person."""
    started = time.perf_counter()
    try:
        _, _, form = await _verified(request, container, "voice", started)
    except _Refused as refused:
        return refused.response
    try:
        page_id = checked_row_id(request.query_params.get("page"), "page")
        staff_id = checked_id(request.query_params.get("staff"), STAFF_ID, "staff")
    except MalformedPayload as exc:
        _outcome("voice", "malformed", started)
        return JSONResponse({"detail": f"page and staff are required: {exc}"}, 400)
    digits = form.first("Digits") or None  # a blank Digits is no key pressed
    if digits is None:
        text = await run_in_threadpool(container.services.page_call_text, page_id)
        _outcome("voice", "call", started)
        return Response(page_call_twiml(text, public_url_for(request, container)), media_type=TWIML)
    if digits != ACK_DIGIT:
        _outcome("voice", "other_key", started)
        return Response(
            said_twiml("That was not 4. The page is still open. Goodbye."), media_type=TWIML
        )
    try:
        page = await run_in_threadpool(container.services.acknowledge, page_id, staff_id, "voice")
    except DomainError as exc:
        _outcome("voice", "refused", started)
        return Response(said_twiml(exc.user_message), media_type=TWIML)
    _outcome("voice", "acknowledged", started)
    return Response(said_twiml(f"Page {page.id} acknowledged. Thank you."), media_type=TWIML)


def public_url_for(request: Request, container: Container) -> str:
    """The URL the provider signed: PUBLIC_URL + path behind a proxy, else what we received."""
    base = container.settings.public_url
    if not base:
        return str(request.url)
    url = base.rstrip("/") + request.scope["path"]
    query = request.scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url
