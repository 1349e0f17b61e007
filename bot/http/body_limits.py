"""Request body limits, enforced while the body is read: 413 before any work is done.

`BodyLimits` is a pure ASGI middleware. A `Content-Length` above the route's limit is refused
before the app sees the request; a body without one (chunked) is counted as it arrives, and the
request is refused as soon as the count passes the limit. Nothing of a refused body is kept: the
rest of it, up to DRAIN_CAP, is read and dropped so that the client hears the 413 rather than a
reset connection. A flood of large unsigned webhooks therefore costs no memory beyond one limit's
worth per request in flight. The limits sit well above what each provider sends (Twilio, Telegram
and Slack webhooks are a few kilobytes) and what the inbox and the API accept.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KB = 1024
MB = 1024 * KB
# First matching path prefix wins; anything else gets DEFAULT_LIMIT.
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    ("/webhooks/", 1 * MB),
    ("/api/", 256 * KB),
    ("/inbox/upload/", 5 * MB + 256 * KB),  # a staff attachment (bot/http/web/attachments.py)
)
DEFAULT_LIMIT = 256 * KB  # the inbox forms, login, the sandbox
DRAIN_CAP = 8 * MB  # dropped unread before a 413, so that the client hears it


class _TooLarge(Exception):
    """Raised from `receive` when the body passes the limit; answered here with 413."""


class BodyLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: tuple[tuple[str, int], ...] = ROUTE_LIMITS,
        default: int = DEFAULT_LIMIT,
    ) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    def limit_for(self, path: str) -> int:
        matching = (limit for prefix, limit in self.limits if path.startswith(prefix))
        return next(matching, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _drain(receive)
            await _too_large(send, limit)
            return
        received = 0
        exceeded = started = False  # started: a response (the app's or our 413) began

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if exceeded:
                # A form route turns any error while reading into its own 400: answer 413.
                if not started:
                    started = True
                    await _drain(receive)
                    await _too_large(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise  # a response was under way: the server closes the connection
        if exceeded and not started:
            await _drain(receive)
            await _too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


async def _drain(receive: Receive) -> None:
    """Read and drop what the client is still sending, up to DRAIN_CAP, before answering: a
    server that closes with unread data resets the connection, and the client, still writing,
    never sees the 413. Nothing is kept; past the cap the connection is simply closed."""
    drained = 0
    while drained < DRAIN_CAP:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is larger than {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            # The rest of the body is not read: the connection cannot be reused.
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
