"""SMS through Twilio: verify and parse its webhooks, send through the official `twilio` client."""

from __future__ import annotations

import asyncio
import base64
import functools
import hmac
import logging
import math
import re
import weakref
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, TypeVar
from urllib.parse import parse_qsl

import aiohttp
import phonenumbers
import requests
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from adapters.text_parts import split_for
from routing.errors import InvalidSignature, MalformedPayload, SendFailed
from routing.limits import ERROR_TEXT, PROVIDER_ID, checked_id, checked_inbound, clean_text
from routing.messages import (
    Attachment,
    Channel,
    Delivery,
    InboundMessage,
    OptKeyword,
    OutboundMessage,
    SendResult,
)

TWILIO_API_URL = "https://api.twilio.com"
_T = TypeVar("_T")
SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio's default opt-out handling answers these words itself; we must honour them too.
OPT_KEYWORDS: Mapping[str, OptKeyword] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), OptKeyword.STOP),
    **dict.fromkeys(("START", "YES", "UNSTOP"), OptKeyword.START),
    **dict.fromkeys(("HELP", "INFO"), OptKeyword.HELP),
}

# MessageStatus -> our delivery state. "sending" is still Twilio's: nothing left it yet.
STATUS_DELIVERY: Mapping[str, Delivery] = {
    "accepted": Delivery.QUEUED,
    "scheduled": Delivery.QUEUED,
    "queued": Delivery.QUEUED,
    "sending": Delivery.QUEUED,
    "sent": Delivery.SENT,
    "partially_delivered": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "read": Delivery.DELIVERED,
    "failed": Delivery.FAILED,
    "undelivered": Delivery.FAILED,
    "canceled": Delivery.FAILED,
}

# REST error codes meaning the number cannot take SMS from us at all, not just now.
UNREACHABLE_CODES = frozenset(
    {
        "21211",  # invalid 'To' phone number
        "21214",  # 'To' phone number cannot be reached
        "21610",  # the recipient replied STOP: unsubscribed
        "21612",  # 'To' number not currently reachable via SMS
        "21614",  # 'To' number is not a valid mobile number
    }
)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status callback for a message we sent."""

    provider_id: str
    delivery: Delivery
    error_code: str | None = None


@functools.cache
def empty_twiml() -> str:
    """The answer to an inbound-message webhook when we reply later, not in the response."""
    return str(MessagingResponse())


class TwilioForm(dict[str, list[str]]):
    """Urlencoded fields by name, every value kept.

    RequestValidator asks a params object for `getlist` before falling back to plain `[]`, so a
    repeated key is signed over all of its values, as Twilio signs it.
    """

    def getlist(self, name: str) -> list[str]:
        return list(self[name])

    def first(self, name: str) -> str | None:
        values = self.get(name)
        return values[0] if values else None

    def as_raw(self) -> dict[str, object]:
        return {k: v[0] if len(v) == 1 else list(v) for k, v in self.items()}


def _parse_form(body: bytes) -> TwilioForm:
    """Parsed afresh for each request: nothing of an unverified body is kept (a cache here
    held up to 64 forged bodies, and their parsed forms, in memory). The webhook hands the
    form `verified_form` checked to parse(), so a request's body is parsed once."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload("the body is not an urlencoded form") from exc
    form = TwilioForm()
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


_PLAIN_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def _e164(number: str) -> str:
    if _PLAIN_E164.fullmatch(number):  # how Twilio writes numbers: nothing to normalise
        return number
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise MalformedPayload("From is not a phone number") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise MalformedPayload("From is not a phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _media_url(msg: OutboundMessage) -> str | None:
    """The public URL of a file staff attached (bot/usecases/attachments.py), if any."""
    attachment = msg.extra.get("attachment")
    if not isinstance(attachment, dict):
        return None
    url = attachment.get("url")
    if not isinstance(url, str) or not url:
        # Twilio fetches MMS media over the internet: without PUBLIC_URL there is no URL.
        raise SendFailed("a file can go by MMS only with PUBLIC_URL set", retryable=False)
    return url


def _media(form: TwilioForm) -> tuple[Attachment, ...]:
    raw = form.first("NumMedia")
    if raw is None or raw == "":
        return ()
    if not raw.isdigit():
        raise MalformedPayload("NumMedia is not a count")
    attachments = []
    for index in range(int(raw)):
        url = form.first(f"MediaUrl{index}")
        if not url:
            raise MalformedPayload(f"NumMedia is {raw} but MediaUrl{index} is missing")
        attachments.append(Attachment(url=url, content_type=form.first(f"MediaContentType{index}")))
    return tuple(attachments)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date measured against the response's Date."""
    if not headers:
        return None
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    date = headers.get("Date")
    if not date:
        return None
    try:
        wait = parsedate_to_datetime(value) - parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return max(0.0, wait.total_seconds())


def _rebased(url: str, api_url: str) -> str:
    """A URL of Twilio's API moved to `api_url` (a stand-in, the sandbox); others as they are."""
    if url.startswith(TWILIO_API_URL + "/"):
        return api_url + url[len(TWILIO_API_URL) :]
    return url


# Where a send wants the headers of Twilio's answer (a 429's Retry-After, which
# TwilioRestException does not carry): a holder the caller sets, which the HTTP client fills
# even from the task that asyncio.wait_for runs it in (a copy of the caller's context).
_ANSWER_HEADERS: ContextVar[dict[str, Mapping[str, str]] | None] = ContextVar(
    "twilio_answer_headers", default=None
)


class _RebasedAsyncHttpClient(AsyncHttpClient):
    """The asynchronous twilio client's HTTP client, sending to `api_url` on one pooled
    aiohttp session per event loop: a send costs the loop no thread and no new connection
    (the `requests` client in a thread cost each send about a millisecond of the process's
    time, measured with bench/e2e). `timeout` bounds connecting and each read, as
    `requests`' does. The answer's headers go to the caller (`_ANSWER_HEADERS`)."""

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), is_async=True, timeout=timeout)
        self._api_url = api_url.rstrip("/")
        self._client_timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout)
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(timeout=self._client_timeout)
            self._sessions[loop] = session
        return session

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        url = _rebased(url, self._api_url)
        if auth is not None:  # aiohttp's BasicAuth is deprecated
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {pair}"}
        async with self._session().request(
            method.upper(),
            url,
            params=_form(params),
            data=_form(data),
            headers=headers,
            allow_redirects=allow_redirects,
        ) as got:
            text = await got.text()
            holder = _ANSWER_HEADERS.get()
            if holder is not None:
                holder["headers"] = got.headers
        return Response(got.status, text, got.headers)

    async def aclose(self) -> None:
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


def _form(values: dict[str, object] | None) -> list[tuple[str, str]] | None:
    """Twilio's parameters as form fields: a list (MediaUrl) repeats its name."""
    if values is None:
        return None
    fields: list[tuple[str, str]] = []
    for name, value in values.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            fields.append((name, str(one)))
    return fields


def _rest_failure(status: int, code: object, text: str, retry_after: float | None) -> SendFailed:
    code_text = str(code) if code not in (None, "") else None
    if status == 429 or status >= 500:
        return SendFailed(
            f"Twilio is unavailable for now (HTTP {status})",
            retryable=True,
            code=code_text,
            retry_after=retry_after,
        )
    return SendFailed(
        f"Twilio refused the message: {text}",
        retryable=False,
        code=code_text,
        unreachable=code_text in UNREACHABLE_CODES,
    )


class TwilioSmsAdapter:
    """The SMS channel: Twilio webhooks in, Twilio's Messages API out.

    `api_url` replaces `https://api.twilio.com` in every REST call (stand-ins, the sandbox).
    `timeout` bounds each socket operation of a call to Twilio, in seconds.
    """

    channel: ClassVar[Channel] = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_url: str = TWILIO_API_URL,
        status_callback: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._from = from_number
        self._status_callback = status_callback
        self._timeout = timeout
        self._validator = RequestValidator(auth_token)
        self._auth = (account_sid, auth_token)
        self._api_url = api_url.rstrip("/")
        # The library's async API, on the event loop. A non-empty environment keeps the client
        # from reading TWILIO_EDGE/TWILIO_REGION from os.environ, which would rename the host
        # before our HTTP client could rebase it.
        self._http = _RebasedAsyncHttpClient(api_url, timeout)
        self._client = Client(
            account_sid,
            auth_token,
            http_client=self._http,
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )

    # --- inbound -----------------------------------------------------------------------------

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Check `X-Twilio-Signature` over `url` (PUBLIC_URL + path, as Twilio saw it) and the form.

        Only the Auth Token scheme (HMAC-SHA1) is accepted; webhooks signed with a SharedKey are
        refused, since the adapter holds no such key.
        """
        self.verified_form(url, headers, body)

    def verified_form(self, url: str, headers: Mapping[str, str], body: bytes) -> TwilioForm:
        """`verify`, giving back the form it checked (for `parse` and `parse_status`)."""
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise InvalidSignature("no X-Twilio-Signature header")
        try:
            params = _parse_form(body)
        except MalformedPayload as exc:
            raise InvalidSignature("the body is not a signed form") from exc
        # The URL as given first (one HMAC); the validator's port variants only on a miss.
        expected = self._validator.compute_signature(url, params)
        if hmac.compare_digest(expected, signature):
            return params
        if not self._validator.validate(url, params, signature):
            raise InvalidSignature("X-Twilio-Signature does not match")
        return params

    def parse(
        self, body: bytes, *, now: datetime | None = None, form: TwilioForm | None = None
    ) -> list[InboundMessage]:
        """One inbound SMS/MMS from Twilio's message webhook.

        `now` (aware) is when it was received; it is required, despite the default that keeps the
        signature compatible with ChannelAdapter: the adapter never reads the clock itself.
        """
        if now is None or now.tzinfo is None:
            raise ValueError("parse needs the receiving time as an aware datetime (now=...)")
        form = _parse_form(body) if form is None else form
        sid = checked_id(form.first("MessageSid"), PROVIDER_ID, "MessageSid")
        sender = form.first("From")
        if not sender:
            raise MalformedPayload("From is missing")
        text = clean_text(form.first("Body") or "")  # cleaned before reading a keyword in it
        # Checked against the columns it goes to: a bad id is refused, the text cleaned.
        return [
            checked_inbound(
                InboundMessage(
                    channel=Channel.SMS,
                    provider_id=sid,
                    address=_e164(sender),
                    text=text,
                    received_at=now.astimezone(UTC),
                    attachments=_media(form),
                    opt_keyword=OPT_KEYWORDS.get(text.strip().upper()),
                    raw=form.as_raw(),
                )
            )
        ]

    def parse_status(self, body: bytes, form: TwilioForm | None = None) -> StatusUpdate:
        """A delivery status callback (`StatusCallback`) for a message we sent (`form`: the
        body as `verified_form` parsed it)."""
        form = _parse_form(body) if form is None else form
        sid = checked_id(
            form.first("MessageSid") or form.first("SmsSid"), PROVIDER_ID, "MessageSid"
        )
        status = form.first("MessageStatus") or form.first("SmsStatus")
        if not status:
            raise MalformedPayload("MessageStatus is missing")
        delivery = STATUS_DELIVERY.get(status.lower())
        if delivery is None:
            raise MalformedPayload(f"unknown MessageStatus {status!r}")
        code = form.first("ErrorCode") or None
        return StatusUpdate(
            provider_id=sid,
            delivery=delivery,
            error_code=checked_id(code, ERROR_TEXT, "ErrorCode") if code else None,
        )

    # --- outbound ----------------------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> SendResult:
        """Create the Message at Twilio; SendFailed says whether trying again can help."""
        if msg.channel is not Channel.SMS:
            raise ValueError(f"the SMS adapter cannot send on {msg.channel}")
        callback = msg.status_callback or self._status_callback
        media = _media_url(msg)
        if media is not None:  # a file staff attached: one MMS, Twilio fetches the URL
            return await self._send_one(msg.to, msg.text, callback, media)
        # Client texts come cut to Twilio's limit (one outbox row per part); anything else
        # longer (a notice) goes as consecutive messages rather than be refused (21617).
        result: SendResult | None = None
        for part in split_for(Channel.SMS, msg.text):
            result = await self._send_one(msg.to, part, callback)
        assert result is not None
        return result

    async def aclose(self) -> None:
        """Close the running loop's pooled connections (at shutdown)."""
        await self._http.aclose()

    def fetch_media(self, url: str, max_bytes: int) -> tuple[bytes, str] | None:
        """A client's MMS media (a MediaUrl of a webhook), fetched with the account's
        credentials, for the inbox to show. Only from Twilio's API (the configured one): the
        credentials never go anywhere else. None if refused, missing or over `max_bytes`;
        blocking. Twilio redirects to storage elsewhere, and requests drops the credentials
        on a redirect to another host."""
        api = self._api_url
        url = _rebased(url, api)
        if not url.startswith(api + "/"):
            return None
        try:
            with requests.get(url, auth=self._auth, timeout=self._timeout, stream=True) as got:
                if got.status_code != 200:
                    return None
                data = b""
                for chunk in got.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        return None
                kind = got.headers.get("content-type", "application/octet-stream")
        except requests.RequestException:
            return None
        return data, kind

    async def find_sent(self, msg: OutboundMessage, since: datetime) -> str | None:
        """The sid of a message Twilio already took for this one (same number and text, made
        since `since`), for a send whose outcome a crash left unknown; None if there is none."""
        try:
            sent = await self._rest(
                self._client.messages.list_async(to=msg.to, from_=self._from, limit=50)
            )
        except SendFailed as exc:
            raise SendFailed("could not ask Twilio what it sent", retryable=True) from exc
        for message in sent:
            created = message.date_created
            if message.body == msg.text and (
                created is None or created >= since.replace(microsecond=0)
            ):
                return str(message.sid)
        return None

    async def find_call(self, to: str, since: datetime) -> str | None:
        """The sid of a call placed to `to` since `since` (see find_sent)."""
        try:
            calls = await self._rest(
                self._client.calls.list_async(to=to, from_=self._from, limit=20)
            )
        except SendFailed as exc:
            raise SendFailed("could not ask Twilio what it called", retryable=True) from exc
        for call in calls:
            created = call.date_created
            if created is None or created >= since.replace(microsecond=0):
                return str(call.sid)
        return None

    async def call(self, to: str, twiml_url: str) -> SendResult:
        """Place a voice call that fetches its TwiML from `twiml_url` (paging calls)."""
        call = await self._rest(
            self._client.calls.create_async(to=to, from_=self._from, url=twiml_url, method="POST")
        )
        return SendResult(provider_id=call.sid, delivery=Delivery.SENT)

    async def _rest(self, request: Awaitable[_T]) -> _T:
        """One call of the library's async API, its failures as SendFailed. Each socket
        operation is bounded by `timeout`; the whole call by three of them."""
        answer: dict[str, Mapping[str, str]] = {}
        _ANSWER_HEADERS.set(answer)
        try:
            return await asyncio.wait_for(request, timeout=self._timeout * 3)
        except TwilioRestException as exc:
            retry = _retry_after(answer.get("headers"))
            raise _rest_failure(exc.status, exc.code, exc.msg, retry) from exc
        except TwilioServiceException as exc:
            retry = _retry_after(answer.get("headers"))
            raise _rest_failure(exc.status, exc.code, exc.detail or exc.title, retry) from exc
        except TimeoutError as exc:
            raise SendFailed("Twilio did not answer in time", retryable=True) from exc
        except aiohttp.ClientError as exc:
            raise SendFailed("could not reach Twilio", retryable=True) from exc

    async def _send_one(
        self, to: str, text: str, status_callback: str | None, media_url: str | None = None
    ) -> SendResult:
        message = await self._rest(
            self._client.messages.create_async(
                to=to,
                from_=self._from,
                body=text if media_url is None else (text or None),
                media_url=[media_url] if media_url is not None else values.unset,
                status_callback=status_callback,
            )
        )
        delivery = STATUS_DELIVERY.get(str(message.status or "").lower(), Delivery.SENT)
        if delivery is Delivery.FAILED:
            code = message.error_code
            raise SendFailed(
                f"Twilio refused the message: {message.error_message or message.status}",
                retryable=False,
                code=str(code) if code is not None else None,
                unreachable=str(code) in UNREACHABLE_CODES,
            )
        return SendResult(provider_id=message.sid, delivery=delivery)
