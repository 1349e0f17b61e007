"""A stand-in of Twilio's REST API on loopback: enough of it for the real `twilio` client.

It answers `POST …/Messages.json`, `GET …/Messages/{Sid}.json` and `POST …/Calls.json` under
`/2010-04-01/Accounts/{AccountSid}` with resources shaped like Twilio's, checks HTTP Basic auth,
records every request, and can be told to fail or to hold its answer back. For the sandbox it
keeps what was "sent" and can post delivery status callbacks signed the way Twilio signs them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import math
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from adapters.standins.recording import CapturedRequest, RequestLog, capture
from adapters.standins.server import LoopbackServer, StandIn
from routing.clock import Clock, SystemClock

API_VERSION = "2010-04-01"
_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
_MESSAGES = re.compile(_ACCOUNT + r"/Messages\.json")
_MESSAGE = re.compile(_ACCOUNT + r"/Messages/(?P<sid>[^/]+)\.json")
_CALLS = re.compile(_ACCOUNT + r"/Calls\.json")
_MEDIA = re.compile(_ACCOUNT + r"/Messages/(?P<sid>MM[0-9a-f]+)/Media/(?P<media>ME[0-9a-f]+)")
MAX_BODY = 1600  # characters: Twilio refuses a longer Body with error 21617


@dataclass(frozen=True, slots=True)
class _Failure:
    status: int
    code: int
    message: str
    retry_after: float | None = None


# Twilio's own error codes for the generic HTTP failures.
_GENERIC_CODES = {
    400: (20001, "Bad Request"),
    401: (20003, "Authenticate"),
    403: (20403, "Forbidden"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> JSONResponse:
    """Twilio's error body: `code`, `message`, `more_info`, `status`."""
    default_code, default_message = _GENERIC_CODES.get(status, (status, "Error"))
    code = code if code is not None else default_code
    return JSONResponse(
        {
            "code": code,
            "message": message or default_message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _rfc2822(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC))


async def _until_gone(request: Request, seconds: float) -> None:
    """Wait `seconds`, or less if the client hangs up first: a held request whose client gave
    up must not keep the stand-in from stopping."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # the body was read whole already: nothing else arrives but the hang-up

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), seconds)


def _segments(body: str) -> int:
    # GSM-7 fits 160 characters in one segment, 153 per part once split; UCS-2 70 and 67.
    single, part = (160, 153) if body.isascii() else (70, 67)
    if len(body) <= single:
        return 1
    return math.ceil(len(body) / part)


class TwilioStandIn(StandIn):
    """Twilio's REST API for one account, served on 127.0.0.1.

    Use as a context manager or call `start()`/`stop()`; point the adapter's `api_url` at `url`.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        port: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests = RequestLog()
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._pending: deque[_Failure] = deque()
        self._always: _Failure | None = None
        self._holds: deque[float] = deque()  # seconds to hold each next answer back
        self._messages: dict[str, dict[str, Any]] = {}
        self._callbacks: dict[str, str] = {}  # resource sid -> its StatusCallback URL
        self._calls: dict[str, dict[str, Any]] = {}
        self._media: dict[str, tuple[bytes, str]] = {}  # media sid -> (bytes, content type)
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])]
        )
        self._server = LoopbackServer(app, port=port)

    # --- lifecycle -------------------------------------------------------------------------

    # --- behaviour programming ---------------------------------------------------------------

    def fail_next(
        self, count: int = 1, status: int = 500, code: int | None = None, message: str | None = None
    ) -> None:
        """Answer the next `count` authenticated requests with `status` and Twilio's error body."""
        default_code, default_message = _GENERIC_CODES.get(status, (status, "Error"))
        failure = _Failure(status, code or default_code, message or default_message)
        with self._lock:
            self._pending.extend([failure] * count)

    def fail_always(self, status: int = 400, code: int = 21211, message: str | None = None) -> None:
        """Answer every authenticated request with this error until `reset()`."""
        text = message or "The 'To' number is not a valid phone number."
        with self._lock:
            self._always = _Failure(status, code, text)

    def recover(self) -> None:
        """Stop failing (programmed failures forgotten), keeping what was sent and recorded."""
        with self._lock:
            self._pending.clear()
            self._always = None

    def rate_limit_next(self, count: int = 1, retry_after: float = 1) -> None:
        """Answer the next `count` authenticated requests 429 with a `Retry-After` header."""
        code, text = _GENERIC_CODES[429]
        with self._lock:
            self._pending.extend([_Failure(429, code, text, retry_after)] * count)

    def hold_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next `count` authenticated requests only after `seconds` (a Twilio that
        does not answer in time), or as soon as the client hangs up, whichever comes first."""
        with self._lock:
            self._holds.extend([seconds] * count)

    def reset(self) -> None:
        """Forget programmed failures and holds, messages, calls and recorded requests."""
        with self._lock:
            self._pending.clear()
            self._always = None
            self._holds.clear()
            self._messages.clear()
            self._media.clear()
            self._callbacks.clear()
            self._calls.clear()
        self.requests.clear()

    # --- inspection --------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CapturedRequest]:
        """Block until `count` requests have been recorded (any outcome), and return them all."""
        return self.requests.wait_for(count, timeout)

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        """The Message resources created for `number`, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages.values() if m["to"] == number]

    def calls_to(self, number: str) -> list[dict[str, Any]]:
        """The Call resources created for `number`, oldest first."""
        with self._lock:
            return [dict(c) for c in self._calls.values() if c["to"] == number]

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._messages[sid])

    # --- status callbacks --------------------------------------------------------------------

    def deliver_status(self, sid: str, status: str, error_code: str | None = None) -> int:
        """Move message `sid` to `status` and post the status callback as Twilio does.

        Blocking: call it from a thread other than the receiver's event loop (in async code,
        through `asyncio.to_thread`). Returns the receiver's HTTP status.
        """
        with self._lock:
            message = self._messages[sid]
            callback = self._callbacks.get(sid)
            if callback is None:
                raise ValueError(f"message {sid} was sent without a StatusCallback")
            now = _rfc2822(self._clock.now())
            message["status"] = status
            message["date_updated"] = now
            if status in ("sent", "delivered") and message["date_sent"] is None:
                message["date_sent"] = now
            if error_code is not None:
                message["error_code"] = int(error_code)
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": message["from"] or "",
                "To": message["to"],
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
            }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self.post_signed(callback, params)

    def post_signed(self, url: str, params: dict[str, str]) -> int:
        """POST `params` urlencoded to `url` with the `X-Twilio-Signature` Twilio would send."""
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        with httpx.Client(timeout=10.0) as client:
            response = client.post(url, content=urlencode(params), headers=headers)
        return response.status_code

    # --- the HTTP side ------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        captured = await capture(request)
        self.requests.append(captured)
        if not self._authorised(captured.headers.get("authorization", "")):
            return twilio_error(401)
        with self._lock:
            hold = self._holds.popleft() if self._holds else 0.0
        if hold:
            await _until_gone(request, hold)
        with self._lock:
            failure = self._pending.popleft() if self._pending else self._always
        if failure is not None:
            response = twilio_error(failure.status, failure.code, failure.message)
            if failure.retry_after is not None:
                response.headers["Retry-After"] = f"{failure.retry_after:g}"
            return response
        return self._dispatch(captured)

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.account_sid) & hmac.compare_digest(
            password, self.auth_token
        )

    def _dispatch(self, request: CapturedRequest) -> Response:
        routes = (
            ("POST", _MESSAGES, self._create_message),
            ("GET", _MESSAGES, self._list_messages),
            ("GET", _MESSAGE, self._fetch_message),
            ("GET", _MEDIA, self._fetch_media),
            ("POST", _CALLS, self._create_call),
            ("GET", _CALLS, self._list_calls),
        )
        known_path = False
        for method, pattern, handler in routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if match["account"] != self.account_sid:
                return twilio_error(404)
            known_path = True
            if request.method == method:
                return handler(request, match)
        if known_path:
            return twilio_error(405, 20004, "Method not allowed")
        return twilio_error(404)

    def _list(self, request: CapturedRequest, key: str, items: list[dict[str, Any]]) -> Response:
        """A one-page list filtered by To and From, as Twilio's list resources answer."""
        query = dict(parse_qsl(request.query))
        chosen = [
            {k: v for k, v in item.items() if not k.startswith("_")}
            for item in items
            if item["to"] == query.get("To", item["to"])
            and item["from"] == query.get("From", item["from"])
        ]
        chosen.reverse()  # newest first
        uri = f"{request.path}?{request.query}" if request.query else request.path
        return JSONResponse(
            {
                key: chosen,
                "end": max(0, len(chosen) - 1),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": max(50, len(chosen)),
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    def _list_messages(self, request: CapturedRequest, _: re.Match[str]) -> Response:
        with self._lock:
            messages = list(self._messages.values())
        return self._list(request, "messages", messages)

    def _list_calls(self, request: CapturedRequest, _: re.Match[str]) -> Response:
        with self._lock:
            calls = list(self._calls.values())
        return self._list(request, "calls", calls)

    def _create_message(self, request: CapturedRequest, _: re.Match[str]) -> Response:
        to, sender = request.field("To"), request.field("From")
        service = request.field("MessagingServiceSid")
        body, media = request.field("Body") or "", request.fields("MediaUrl")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        sid = "SM" + secrets.token_hex(16)
        now = _rfc2822(self._clock.now())
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        message: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        with self._lock:
            self._messages[sid] = message
            callback = request.field("StatusCallback")
            if callback:
                self._callbacks[sid] = callback
        return JSONResponse(message, status_code=201)

    def add_media(self, content: bytes, content_type: str) -> str:
        """Host a client's MMS media; its MediaUrl, served only with the account's credentials."""
        message, media = "MM" + secrets.token_hex(16), "ME" + secrets.token_hex(16)
        with self._lock:
            self._media[media] = (content, content_type)
        return (
            f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message}/Media/{media}"
        )

    def _fetch_media(self, _: CapturedRequest, match: re.Match[str]) -> Response:
        with self._lock:
            found = self._media.get(match["media"])
        if found is None:
            return twilio_error(404)
        return Response(found[0], media_type=found[1])

    def _fetch_message(self, _: CapturedRequest, match: re.Match[str]) -> Response:
        with self._lock:
            message = self._messages.get(match["sid"])
            if message is None:
                return twilio_error(
                    404, 20404, f"The requested resource {match.string} was not found"
                )
            return JSONResponse(dict(message))

    def _create_call(self, request: CapturedRequest, _: re.Match[str]) -> Response:
        to, sender = request.field("To"), request.field("From")
        if not to:
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not sender:
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not (request.field("Url") or request.field("Twiml") or request.field("ApplicationSid")):
            return twilio_error(400, 21205, "Url parameter is required.")
        sid = "CA" + secrets.token_hex(16)
        now = _rfc2822(self._clock.now())
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}"
        call: dict[str, Any] = {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": sender,
            "from_formatted": sender,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "notifications": f"{uri}/Notifications.json",
                "recordings": f"{uri}/Recordings.json",
                "events": f"{uri}/Events.json",
            },
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
            "uri": f"{uri}.json",
            # Not part of Twilio's resource: what the call would have played, for the sandbox.
            "_url": request.field("Url"),
            "_twiml": request.field("Twiml"),
        }
        public = {k: v for k, v in call.items() if not k.startswith("_")}
        with self._lock:
            self._calls[sid] = call
            callback = request.field("StatusCallback")
            if callback:
                self._callbacks[sid] = callback
        return JSONResponse(public, status_code=201)
