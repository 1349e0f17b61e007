"""The Twilio SMS adapter, through the real `twilio` client against the loopback stand-in."""

from __future__ import annotations

import asyncio
import base64
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from openapi_core.templating.paths.exceptions import OperationNotFound
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    SecurityValidationError,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from adapters.sms import StatusUpdate, TwilioSmsAdapter, empty_twiml
from adapters.standins.recording import RequestLog, capture
from adapters.standins.server import LoopbackServer
from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_adapters
from bot.config import load_config
from bot.settings import Settings
from routing.errors import InvalidSignature, MalformedPayload, SendFailed
from routing.messages import Attachment, Channel, Delivery, OptKeyword, OutboundMessage
from tests.support.twilio_openapi import validate_answer, validate_captured
from tests.support.twilio_signing import signed_form_post_headers

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "stand-in-auth-token"
AGENCY_NUMBER = "+13135550100"
CLIENT_NUMBER = "+13135550142"
PUBLIC_URL = "https://inbox.example-agency.test"
SMS_WEBHOOK = PUBLIC_URL + "/webhooks/twilio/sms"
NOW = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
EXAMPLE_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "agency.toml"


@pytest.fixture(scope="module")
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def twilio(standin: TwilioStandIn) -> TwilioStandIn:
    standin.reset()
    return standin


@pytest.fixture
async def adapter(twilio: TwilioStandIn) -> AsyncIterator[TwilioSmsAdapter]:
    sms = TwilioSmsAdapter(
        ACCOUNT_SID,
        AUTH_TOKEN,
        AGENCY_NUMBER,
        api_url=twilio.url,
        status_callback=PUBLIC_URL + "/webhooks/twilio/status",
        timeout=5.0,
    )
    yield sms
    await sms.aclose()  # the test's loop's pooled connections


def inbound_form(**overrides: str) -> dict[str, str]:
    form = {
        "ToCountry": "US",
        "SmsMessageSid": "SM" + "1" * 32,
        "NumMedia": "0",
        "SmsSid": "SM" + "1" * 32,
        "SmsStatus": "received",
        "Body": "Hello, is anyone there?",
        "To": AGENCY_NUMBER,
        "NumSegments": "1",
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": CLIENT_NUMBER,
        "ApiVersion": "2010-04-01",
    }
    form.update(overrides)
    return form


def form_body(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()


def sms(text: str = "We are on it.", **changes: object) -> OutboundMessage:
    return replace(OutboundMessage(channel=Channel.SMS, to=CLIENT_NUMBER, text=text), **changes)


# --- verify ---------------------------------------------------------------------------------


def test_verify_accepts_a_request_signed_by_twilio(adapter: TwilioSmsAdapter) -> None:
    headers, body = signed_form_post_headers(AUTH_TOKEN, SMS_WEBHOOK, inbound_form())

    adapter.verify(SMS_WEBHOOK, headers, body)


def test_verify_finds_the_signature_header_in_any_case(adapter: TwilioSmsAdapter) -> None:
    headers, body = signed_form_post_headers(AUTH_TOKEN, SMS_WEBHOOK, inbound_form())
    lower = {name.lower(): value for name, value in headers.items()}

    adapter.verify(SMS_WEBHOOK, lower, body)


def test_verify_rejects_a_forged_signature(adapter: TwilioSmsAdapter) -> None:
    headers, body = signed_form_post_headers("not-the-auth-token", SMS_WEBHOOK, inbound_form())

    with pytest.raises(InvalidSignature):
        adapter.verify(SMS_WEBHOOK, headers, body)


def test_verify_rejects_a_request_without_a_signature(adapter: TwilioSmsAdapter) -> None:
    headers, body = signed_form_post_headers(AUTH_TOKEN, SMS_WEBHOOK, inbound_form())
    del headers["X-Twilio-Signature"]

    with pytest.raises(InvalidSignature):
        adapter.verify(SMS_WEBHOOK, headers, body)


def test_verify_rejects_a_body_changed_after_signing(adapter: TwilioSmsAdapter) -> None:
    headers, _ = signed_form_post_headers(AUTH_TOKEN, SMS_WEBHOOK, inbound_form())
    tampered = form_body(inbound_form(Body="Please send the invoice to someone else"))

    with pytest.raises(InvalidSignature):
        adapter.verify(SMS_WEBHOOK, headers, tampered)


def test_verify_rejects_a_signature_for_another_url(adapter: TwilioSmsAdapter) -> None:
    # Behind a proxy the app sees its internal URL; Twilio signed the public one.
    headers, body = signed_form_post_headers(AUTH_TOKEN, SMS_WEBHOOK, inbound_form())

    with pytest.raises(InvalidSignature):
        adapter.verify("http://10.0.0.7:8000/webhooks/twilio/sms", headers, body)
    with pytest.raises(InvalidSignature):
        adapter.verify(PUBLIC_URL + "/webhooks/twilio/status", headers, body)
    adapter.verify(SMS_WEBHOOK, headers, body)


def test_verify_signs_over_every_value_of_a_repeated_key(adapter: TwilioSmsAdapter) -> None:
    pairs = [*inbound_form().items(), ("Label", "urgent"), ("Label", "billing")]
    headers, body = signed_form_post_headers(AUTH_TOKEN, SMS_WEBHOOK, pairs)
    assert body.count(b"Label=") == 2

    adapter.verify(SMS_WEBHOOK, headers, body)
    # Twilio sorts the values of a key, so their order in the body does not matter ...
    reordered = form_body(inbound_form()) + b"&Label=billing&Label=urgent"
    adapter.verify(SMS_WEBHOOK, headers, reordered)
    # ... but every one of them is signed.
    dropped = form_body(inbound_form()) + b"&Label=urgent"
    with pytest.raises(InvalidSignature):
        adapter.verify(SMS_WEBHOOK, headers, dropped)


# --- parse ----------------------------------------------------------------------------------


def test_parse_reads_an_inbound_sms(adapter: TwilioSmsAdapter) -> None:
    [message] = adapter.parse(form_body(inbound_form()), now=NOW)

    assert message.channel is Channel.SMS
    assert message.provider_id == "SM" + "1" * 32
    assert message.address == CLIENT_NUMBER
    assert message.text == "Hello, is anyone there?"
    assert message.received_at == NOW
    assert message.attachments == ()
    assert message.opt_keyword is None
    assert message.raw["To"] == AGENCY_NUMBER


def test_parse_normalises_the_sender_to_e164(adapter: TwilioSmsAdapter) -> None:
    [message] = adapter.parse(form_body(inbound_form(From="+44 20 7946 0958")), now=NOW)

    assert message.address == "+442079460958"


def test_parse_gives_received_at_in_utc(adapter: TwilioSmsAdapter) -> None:
    detroit = timezone(timedelta(hours=-5))
    [message] = adapter.parse(form_body(inbound_form()), now=NOW.astimezone(detroit))

    assert message.received_at == NOW
    assert message.received_at.utcoffset() == timedelta(0)


def test_parse_refuses_to_guess_the_receiving_time(adapter: TwilioSmsAdapter) -> None:
    with pytest.raises(ValueError, match="aware"):
        adapter.parse(form_body(inbound_form()))
    with pytest.raises(ValueError, match="aware"):
        adapter.parse(form_body(inbound_form()), now=datetime(2025, 3, 4, 15, 30))


def test_parse_keeps_each_media_item_as_an_attachment(adapter: TwilioSmsAdapter) -> None:
    media = "https://api.twilio.com/2010-04-01/Accounts/" + ACCOUNT_SID + "/Messages/SM1/Media/"
    form = inbound_form(
        Body="",
        NumMedia="2",
        MediaUrl0=media + "ME0",
        MediaContentType0="image/jpeg",
        MediaUrl1=media + "ME1",
        MediaContentType1="application/pdf",
    )

    [message] = adapter.parse(form_body(form), now=NOW)

    assert message.text == ""
    assert message.attachments == (
        Attachment(url=media + "ME0", content_type="image/jpeg"),
        Attachment(url=media + "ME1", content_type="application/pdf"),
    )


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", OptKeyword.STOP),
        ("stop ", OptKeyword.STOP),
        ("Unsubscribe", OptKeyword.STOP),
        ("  quit\n", OptKeyword.STOP),
        ("START", OptKeyword.START),
        ("unstop", OptKeyword.START),
        ("HELP", OptKeyword.HELP),
        ("info", OptKeyword.HELP),
        ("stop by later", None),
        ("Please STOP the campaign", None),
        ("", None),
    ],
)
def test_parse_recognises_only_whole_body_opt_keywords(
    adapter: TwilioSmsAdapter, body: str, keyword: OptKeyword | None
) -> None:
    [message] = adapter.parse(form_body(inbound_form(Body=body)), now=NOW)

    assert message.opt_keyword == keyword
    assert message.text == body


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (form_body({k: v for k, v in inbound_form().items() if k != "MessageSid"}), "MessageSid"),
        (form_body(inbound_form(MessageSid="")), "MessageSid"),
        (form_body({k: v for k, v in inbound_form().items() if k != "From"}), "From"),
        (form_body(inbound_form(From="not a number")), "From"),
        (form_body(inbound_form(NumMedia="two")), "NumMedia"),
        (form_body(inbound_form(NumMedia="-1")), "NumMedia"),
        (form_body(inbound_form(NumMedia="2", MediaUrl0="https://x.test/0")), "MediaUrl1"),
        (b"MessageSid=SM1&From=%2B13135550142&Body=\xff\xfe", "urlencoded"),
    ],
    ids=[
        "no-sid",
        "empty-sid",
        "no-from",
        "from-not-a-number",
        "num-media-word",
        "num-media-negative",
        "media-url-missing",
        "not-utf8",
    ],
)
def test_parse_rejects_a_malformed_form(
    adapter: TwilioSmsAdapter, body: bytes, complaint: str
) -> None:
    with pytest.raises(MalformedPayload, match=complaint):
        adapter.parse(body, now=NOW)


# --- status callbacks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "delivery"),
    [
        ("accepted", Delivery.QUEUED),
        ("scheduled", Delivery.QUEUED),
        ("queued", Delivery.QUEUED),
        ("sending", Delivery.QUEUED),
        ("sent", Delivery.SENT),
        ("delivered", Delivery.DELIVERED),
        ("read", Delivery.DELIVERED),
        ("failed", Delivery.FAILED),
        ("undelivered", Delivery.FAILED),
        ("canceled", Delivery.FAILED),
    ],
)
def test_parse_status_maps_twilio_statuses(
    adapter: TwilioSmsAdapter, status: str, delivery: Delivery
) -> None:
    body = form_body({"MessageSid": "SM" + "2" * 32, "MessageStatus": status})

    assert adapter.parse_status(body) == StatusUpdate("SM" + "2" * 32, delivery, None)


def test_parse_status_keeps_the_error_code(adapter: TwilioSmsAdapter) -> None:
    body = form_body({"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30005"})

    assert adapter.parse_status(body) == StatusUpdate("SM9", Delivery.FAILED, "30005")


@pytest.mark.parametrize(
    "form",
    [
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM9"},
        {"MessageSid": "SM9", "MessageStatus": "teleported"},
    ],
    ids=["no-sid", "no-status", "unknown-status"],
)
def test_parse_status_rejects_a_malformed_callback(
    adapter: TwilioSmsAdapter, form: dict[str, str]
) -> None:
    with pytest.raises(MalformedPayload):
        adapter.parse_status(form_body(form))


# --- send -----------------------------------------------------------------------------------


async def test_send_creates_the_message_at_twilio_and_keeps_its_sid(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    result = await adapter.send(sms("We are on it."))

    [stored] = twilio.sent_to(CLIENT_NUMBER)
    assert result.provider_id == stored["sid"]
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert result.delivery is Delivery.QUEUED
    assert stored["from"] == AGENCY_NUMBER
    assert stored["body"] == "We are on it."
    [request] = twilio.requests.all()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.field("StatusCallback") == PUBLIC_URL + "/webhooks/twilio/status"


async def test_send_uses_the_message_own_status_callback_first(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    await adapter.send(sms(status_callback=PUBLIC_URL + "/webhooks/twilio/status?outbox=7"))

    [request] = twilio.requests.all()
    assert request.field("StatusCallback") == PUBLIC_URL + "/webhooks/twilio/status?outbox=7"


async def test_what_the_client_sends_matches_twilio_openapi_description(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    await adapter.send(sms("Your report is ready: https://example.test/r/1"))
    [request] = twilio.requests.all()

    validate_captured(request)


async def test_openapi_validation_rejects_requests_twilio_would_refuse(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    await adapter.send(sms())
    [request] = twilio.requests.all()
    without_to = [(k, v) for k, v in request.form if k != "To"]
    no_auth = {k: v for k, v in request.headers.items() if k != "authorization"}

    with pytest.raises(InvalidRequestBody, match="'To' is a required property"):
        validate_captured(replace(request, body=urlencode(without_to).encode(), form=()))
    with pytest.raises(SecurityValidationError):
        validate_captured(replace(request, headers=no_auth))
    with pytest.raises(InvalidParameter, match="AccountSid"):
        validate_captured(replace(request, path=request.path.replace(ACCOUNT_SID, "ACnope")))
    with pytest.raises(OperationNotFound):
        validate_captured(replace(request, method="PUT"))


async def test_send_500_is_retryable(adapter: TwilioSmsAdapter, twilio: TwilioStandIn) -> None:
    twilio.fail_next(1, status=500)

    with pytest.raises(SendFailed) as failure:
        await adapter.send(sms())

    assert failure.value.retryable
    assert not failure.value.unreachable
    assert failure.value.code == "20500"
    # the failure was one-off: the next attempt goes through
    result = await adapter.send(sms())
    assert result.provider_id is not None


async def test_send_429_is_retryable_after_twilio_wait(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    twilio.rate_limit_next(1, retry_after=7)

    with pytest.raises(SendFailed) as failure:
        await adapter.send(sms())

    assert failure.value.retryable
    assert failure.value.retry_after == 7.0
    assert failure.value.code == "20429"


async def test_send_to_an_invalid_number_fails_for_good(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    twilio.fail_always(status=400, code=21211, message="The 'To' number +1 is not valid.")

    for _ in range(2):
        with pytest.raises(SendFailed) as failure:
            await adapter.send(sms())
        assert not failure.value.retryable
        assert failure.value.unreachable
        assert failure.value.code == "21211"
        assert failure.value.retry_after is None
    assert twilio.sent_to(CLIENT_NUMBER) == []


async def test_send_to_an_unsubscribed_recipient_marks_it_unreachable(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    twilio.fail_always(status=400, code=21610, message="Attempt to send to unsubscribed recipient")

    with pytest.raises(SendFailed) as failure:
        await adapter.send(sms())

    assert (failure.value.retryable, failure.value.unreachable) == (False, True)
    assert failure.value.code == "21610"


async def test_send_with_other_client_error_is_permanent_but_not_unreachable(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    twilio.fail_always(status=400, code=21606, message="The 'From' number is not a valid number")

    with pytest.raises(SendFailed) as failure:
        await adapter.send(sms())

    assert (failure.value.retryable, failure.value.unreachable) == (False, False)


async def test_send_with_a_wrong_auth_token_fails_for_good(twilio: TwilioStandIn) -> None:
    wrong = TwilioSmsAdapter(ACCOUNT_SID, "wrong-token", AGENCY_NUMBER, api_url=twilio.url)

    with pytest.raises(SendFailed) as failure:
        await wrong.send(sms())

    assert not failure.value.retryable
    assert failure.value.code == "20003"
    assert twilio.sent_to(CLIENT_NUMBER) == []


async def test_send_when_twilio_cannot_be_reached_is_retryable() -> None:
    gone = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    adapter = TwilioSmsAdapter(ACCOUNT_SID, AUTH_TOKEN, AGENCY_NUMBER, api_url=gone.url)
    assert (await adapter.send(sms())).provider_id is not None
    gone.stop()

    with pytest.raises(SendFailed) as failure:
        await adapter.send(sms())

    assert failure.value.retryable
    assert failure.value.code is None


async def test_send_when_twilio_does_not_answer_in_time_is_retryable() -> None:
    # A listening socket nobody reads from: the connection opens, the answer never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        adapter = TwilioSmsAdapter(ACCOUNT_SID, AUTH_TOKEN, AGENCY_NUMBER, url, timeout=0.3)

        with pytest.raises(SendFailed) as failure:
            await asyncio.wait_for(adapter.send(sms()), timeout=5)

    assert failure.value.retryable


async def test_the_send_timeout_setting_bounds_a_send_that_twilio_holds(
    twilio: TwilioStandIn,
) -> None:
    """PARTNERLINE_SEND_TIMEOUT reaches the adapter the app builds: Twilio holding its answer
    for 10 s fails the send after about 1 s, not after the adapter's default."""
    settings = Settings(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_URL=twilio.url,
        PARTNERLINE_SEND_TIMEOUT=1,
    )
    adapter = build_adapters(settings, load_config(EXAMPLE_CONFIG))[Channel.SMS]
    twilio.hold_next(10)

    with pytest.raises(SendFailed) as failure:
        await asyncio.wait_for(adapter.send(sms()), timeout=5)

    assert failure.value.retryable
    assert "did not answer in time" in str(failure.value)
    assert len(twilio.requests) == 1  # Twilio was reached; it was the answer that was late
    # The client hung up, so the stand-in stops holding and makes the message, as Twilio
    # would: wait for it here, or it would land in the next test.
    for _ in range(100):
        if twilio.sent_to(CLIENT_NUMBER):
            break
        await asyncio.sleep(0.05)
    assert len(twilio.sent_to(CLIENT_NUMBER)) == 1


async def test_a_file_with_no_text_goes_as_one_mms_without_a_body(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    chart = "https://agency.example/files/chart.png"

    result = await adapter.send(sms("", extra={"attachment": {"url": chart}}))

    [request] = [r for r in twilio.requests.all() if r.path.endswith("/Messages.json")]
    assert request.fields("MediaUrl") == [chart]
    assert request.fields("Body") == []  # left out (the library drops a None), not "None"
    assert [m["sid"] for m in twilio.sent_to(CLIENT_NUMBER)] == [result.provider_id]
    validate_captured(request)


async def test_send_does_not_block_the_event_loop(
    adapter: TwilioSmsAdapter, twilio: TwilioStandIn
) -> None:
    results = await asyncio.gather(*(adapter.send(sms(f"reply {n}")) for n in range(4)))

    assert len({r.provider_id for r in results}) == 4
    assert sorted(m["body"] for m in twilio.sent_to(CLIENT_NUMBER)) == [
        f"reply {n}" for n in range(4)
    ]


# --- the stand-in beyond Messages.json ------------------------------------------------------


def test_standin_answers_fetch_and_calls_as_twilio_client_expects(twilio: TwilioStandIn) -> None:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""})
    client.api.base_url = twilio.url  # the adapter rebases differently; the stand-in serves both

    created = client.messages.create(to=CLIENT_NUMBER, from_=AGENCY_NUMBER, body="ping")
    fetched = client.messages(created.sid).fetch()
    call = client.calls.create(
        to=CLIENT_NUMBER, from_=AGENCY_NUMBER, url=PUBLIC_URL + "/webhooks/twilio/voice"
    )

    assert (fetched.sid, fetched.body, fetched.status) == (created.sid, "ping", "queued")
    assert fetched.date_created is not None and fetched.date_created.tzinfo is not None
    assert call.sid.startswith("CA") and call.status == "queued"
    assert [c["sid"] for c in twilio.calls_to(CLIENT_NUMBER)] == [call.sid]
    for request in twilio.requests.all():
        validate_captured(request)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/Messages.json", {"To": CLIENT_NUMBER, "From": AGENCY_NUMBER, "Body": "hi"}),
        ("/Calls.json", {"To": CLIENT_NUMBER, "From": AGENCY_NUMBER, "Twiml": "<Response/>"}),
    ],
)
def test_standin_resources_match_twilio_openapi_description(
    twilio: TwilioStandIn, path: str, form: dict[str, str]
) -> None:
    url = f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}{path}"
    answer = httpx.post(url, data=form, auth=(ACCOUNT_SID, AUTH_TOKEN))
    [request] = twilio.requests.all()

    assert answer.status_code == 201
    validate_answer(request, answer.status_code, dict(answer.headers), answer.content)


def test_standin_refuses_wrong_credentials_with_twilio_error(twilio: TwilioStandIn) -> None:
    url = f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    basic = base64.b64encode(f"{ACCOUNT_SID}:nope".encode()).decode()

    answer = httpx.post(
        url, data={"To": CLIENT_NUMBER}, headers={"Authorization": "Basic " + basic}
    )

    assert answer.status_code == 401
    assert answer.json()["code"] == 20003
    assert answer.json()["status"] == 401
    assert len(twilio.requests) == 1


# --- delivery status callbacks from the stand-in ------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[LoopbackServer, RequestLog]]:
    log = RequestLog()

    async def record(request: Request) -> Response:
        log.append(await capture(request))
        return Response(empty_twiml(), media_type="application/xml")

    app = Starlette(routes=[Route("/webhooks/twilio/status", record, methods=["POST"])])
    with LoopbackServer(app) as server:
        yield server, log


async def test_standin_status_callback_arrives_signed_and_verifies(
    twilio: TwilioStandIn, receiver: tuple[LoopbackServer, RequestLog]
) -> None:
    server, log = receiver
    callback_url = server.url + "/webhooks/twilio/status"
    adapter = TwilioSmsAdapter(
        ACCOUNT_SID, AUTH_TOKEN, AGENCY_NUMBER, api_url=twilio.url, status_callback=callback_url
    )
    result = await adapter.send(sms())
    assert result.provider_id is not None

    status = await asyncio.to_thread(twilio.deliver_status, result.provider_id, "delivered")

    assert status == 200
    [callback] = await asyncio.to_thread(log.wait_for, 1)
    assert callback.headers["x-twilio-signature"]
    adapter.verify(callback_url, callback.headers, callback.body)
    assert adapter.parse_status(callback.body) == StatusUpdate(
        result.provider_id, Delivery.DELIVERED, None
    )
    assert twilio.message(result.provider_id)["status"] == "delivered"
    other_account = TwilioSmsAdapter(ACCOUNT_SID, "another-token", AGENCY_NUMBER)
    with pytest.raises(InvalidSignature):
        other_account.verify(callback_url, callback.headers, callback.body)


async def test_standin_failure_callback_carries_the_error_code(
    twilio: TwilioStandIn, receiver: tuple[LoopbackServer, RequestLog]
) -> None:
    server, log = receiver
    callback_url = server.url + "/webhooks/twilio/status"
    adapter = TwilioSmsAdapter(
        ACCOUNT_SID, AUTH_TOKEN, AGENCY_NUMBER, api_url=twilio.url, status_callback=callback_url
    )
    result = await adapter.send(sms())
    assert result.provider_id is not None

    await asyncio.to_thread(twilio.deliver_status, result.provider_id, "undelivered", "30003")

    [callback] = await asyncio.to_thread(log.wait_for, 1)
    adapter.verify(callback_url, callback.headers, callback.body)
    assert adapter.parse_status(callback.body) == StatusUpdate(
        result.provider_id, Delivery.FAILED, "30003"
    )


# --- TwiML ----------------------------------------------------------------------------------


def test_empty_twiml_is_an_empty_messaging_response() -> None:
    twiml = empty_twiml()

    assert twiml == str(MessagingResponse())
    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(twiml.encode())
    assert root.tag == "Response" and len(root) == 0
