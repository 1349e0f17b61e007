"""The web inbox: server-rendered pages (Jinja2 + htmx, no build step) over the services.

`install_web(app)` adds its routes, its static files and the answers to anonymous visits and
refused form posts; `create_app` calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from bot.http.web import (
    attachments,
    canned,
    client_report,
    conversation,
    inbox,
    live,
    login,
    merge,
    oncall_panel,
    profile,
    reports,
    simulate_page,
    triage,
)
from bot.http.web.guard import CsrfRefused, LoginRequired, login_redirect
from bot.http.web.templating import render

if TYPE_CHECKING:
    from bot.http.web.sandbox import Sandbox

STATIC = Path(__file__).parent / "static"
# Paths whose unexpected errors are answered with an HTML page (bot.http.server_errors).
PAGE_PREFIXES = ("/inbox", "/login", "/logout", "/sandbox", "/reports/")


def error_page(request: Request, reference: str) -> Response:
    """The inbox's answer to an unexpected error: plain, with the reference from the log."""
    return render(
        request,
        "error.html",
        None,
        {
            "error": "Something went wrong on our side. It has been logged.",
            "reference": reference,
            "back": "/inbox",
        },
        status_code=500,
    )


def not_found_page(request: Request) -> Response:
    """The inbox's answer to a path that names nothing (`/inbox/conversations/abc`)."""
    return render(request, "not_found.html", None, {"what": "such page"}, status_code=404)


def install_web(
    app: FastAPI, sandbox: Sandbox | None = None, dependencies: Sequence[Any] = ()
) -> None:
    """`sandbox`: also serve /sandbox (`partnerline serve --sandbox` only); `dependencies`
    run before every page's own."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (
        login,
        inbox,
        conversation,
        live,
        oncall_panel,
        canned,
        profile,
        attachments,
        reports,
        client_report,
        triage,
        merge,
        simulate_page,
    ):
        app.include_router(module.router, dependencies=dependencies)
    if sandbox is not None:
        from bot.http.web import sandbox as sandbox_routes

        app.state.sandbox = sandbox
        app.include_router(sandbox_routes.router, dependencies=dependencies)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return render(
            request,
            "error.html",
            None,
            {
                "error": "This form expired or was sent from another site. Reload and try again.",
                "back": "/inbox",
            },
            status_code=403,
        )
