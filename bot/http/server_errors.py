"""The answer to an unexpected error: a 500 with a reference id that is also in the log.

`UnexpectedErrors` is a pure ASGI middleware that sits between Starlette's
ServerErrorMiddleware and the routes. It answers whatever no exception handler took, and the
error goes no further. (An `exception_handler(Exception)` is run by ServerErrorMiddleware,
which answers and then re-raises by design; uvicorn then closes the keep-alive connection, and
a browser's next request on it fails with "connection reset".)

Inbox pages get a plain HTML page, everything else (the API, webhooks) `{"detail": ...}`. Both
carry the reference, which is also in the header `X-Error-Reference` and in the log line with the
traceback. A response that had already started (a stream) cannot become an error page: the error
is logged with its reference and re-raised, so the server closes the connection instead of
passing a cut-off body off as complete. An error after a whole response is only logged.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

REFERENCE_HEADER = "X-Error-Reference"
ErrorPage = Callable[[Request, str], Response]


def new_reference() -> str:
    """Short enough to read out over the phone, random enough never to repeat in a log."""
    return secrets.token_hex(6)


class UnexpectedErrors:
    """`page(request, reference)` renders the HTML answer for paths under `page_prefixes`."""

    def __init__(self, app: ASGIApp, *, page_prefixes: tuple[str, ...], page: ErrorPage) -> None:
        self.app = app
        self.page_prefixes = page_prefixes
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def watched(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            reference = new_reference()
            log.exception(
                "unexpected error, reference %s, on %s %s",
                reference,
                scope.get("method"),
                scope.get("path"),
            )
            if finished:
                return  # the answer went out whole (the error came after): nothing to add
            if started:
                raise
            response = self._answer(Request(scope, receive), reference)
            response.headers[REFERENCE_HEADER] = reference
            await response(scope, receive, send)

    def _answer(self, request: Request, reference: str) -> Response:
        path = request.url.path
        if path == "/" or path.startswith(self.page_prefixes):
            try:
                return self.page(request, reference)
            except Exception:  # the page itself may need what just failed
                log.exception("the error page for reference %s failed too", reference)
                return PlainTextResponse(_sentence(reference), status_code=500)
        return JSONResponse({"detail": _sentence(reference), "reference": reference}, 500)


def _sentence(reference: str) -> str:
    return f"Something went wrong on our side and it has been logged (reference {reference})."
