"""The FastAPI application: routes, error answers, middleware (bot.bootstrap.create_app runs
it with the chat apps and the worker)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from bot.channels.slack import webhook as slack_webhook
from bot.channels.sms import webhook as twilio_webhooks
from bot.channels.telegram import webhook as telegram_webhook
from bot.container import Container
from bot.http import calendar_feeds, ops
from bot.http.api import contacts, conversations, oncall, pages, reports
from bot.http.api.responses import errors
from bot.http.api_docs import install_api_docs
from bot.http.body_limits import BodyLimits
from bot.http.deps import plain_query
from bot.http.security_headers import SecurityHeaders
from bot.http.server_errors import UnexpectedErrors
from bot.http.web import PAGE_PREFIXES, error_page, install_web, not_found_page
from bot.log_safety import protect_logs
from routing.errors import DomainError, MalformedPayload

if TYPE_CHECKING:
    from bot.http.web.sandbox import Sandbox

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_http_app(
    container: Container,
    *,
    lifespan: Lifespan | None = None,
    sandbox: Sandbox | None = None,
) -> FastAPI:
    """The web half: routes, error answers and the middleware round every request.
    `lifespan` runs around serving (bot.bootstrap.create_app starts the chat apps and, for
    `serve`, the worker there); `sandbox`: the local provider stand-ins and /sandbox."""

    app = FastAPI(
        title="Partnerline",
        summary="Client messages on Slack, Telegram and SMS; one inbox; on-call escalation.",
        lifespan=lifespan,
        docs_url=None,  # api_docs serves /docs from local files; FastAPI's loads a CDN's
        redoc_url=None,
    )
    install_api_docs(app)
    app.state.container = container
    app.include_router(ops.router)
    app.include_router(twilio_webhooks.router)
    app.include_router(telegram_webhook.router)
    app.include_router(slack_webhook.router)
    # Routes whose query parameters reach a query (searches, ids, cursors, times) refuse a
    # NUL first; the webhooks, signed and read as their providers send them, need not pay.
    plain = [Depends(plain_query)]
    for router in (
        conversations.router,
        contacts.router,
        oncall.router,
        pages.router,
        reports.router,
        calendar_feeds.router,
    ):
        app.include_router(router, dependencies=plain, responses=errors(400))

    install_web(app, sandbox, dependencies=[Depends(plain_query)])

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/inbox")

    _install_error_handlers(app)
    # Anything no handler takes is answered here (a 500 with a reference id in the log),
    # never passed on to the server, which would drop the keep-alive connection.
    # Inside UnexpectedErrors: a body past its route's limit is a 413, read no further.
    app.add_middleware(BodyLimits)
    app.add_middleware(UnexpectedErrors, page_prefixes=PAGE_PREFIXES, page=error_page)
    # Outermost: every answer gets nosniff (and HSTS over HTTPS), the 413s and 500s too.
    app.add_middleware(SecurityHeaders, settings=container.settings)
    protect_logs()  # the Telegram token is in every Bot API URL httpx would log
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.user_message, "code": exc.code}, exc.status)

    @app.exception_handler(MalformedPayload)
    async def malformed(request: Request, exc: MalformedPayload) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "malformed"}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path; several routes can
            # share one (GET and POST /api/overrides), and Allow must name them all.
            headers = {**(headers or {}), "Allow": _allowed_methods(app, request)}
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if errors and all(tuple(e.get("loc", ()))[:1] == ("path",) for e in errors):
            # A path naming something that cannot exist (`/api/pages/abc`, an id past what a
            # key can hold) is a path to nothing.
            if request.url.path.startswith(PAGE_PREFIXES):
                return not_found_page(request)
            return JSONResponse({"detail": "not found", "code": "not_found"}, 404)
        # The input the caller sent is not echoed back (it may be large, or a secret).
        problems = [
            {
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg", "invalid"),
                "type": e.get("type", "value_error"),
            }
            for e in errors
        ]
        return JSONResponse({"detail": problems}, 422)


def _allowed_methods(app: FastAPI, request: Request) -> str:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))
