"""`/docs` and the OpenAPI document's security: Swagger UI served from the package (no CDN:
nothing leaves the machine), and the two ways to call /api named so that "Authorize" offers them.

The API takes `Authorization: Bearer PARTNERLINE_ADMIN_TOKEN`, or an inbox session: its cookie,
plus the session's CSRF token in `X-CSRF-Token` on writes (bot/http/deps.py). FastAPI lists each
declared scheme as an alternative of its own; `install_api_docs` rewrites every /api
operation's requirement to say that a write by cookie needs both.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import HTMLResponse

from bot.http.sessions import SESSION_COOKIE, UNSAFE_METHODS

BEARER, SESSION, CSRF = "AdminToken", "InboxSession", "CsrfHeader"
SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "PARTNERLINE_ADMIN_TOKEN: acts as `admin` (full rights).",
    },
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A signed-in inbox session, as that staff member (a browser sends it).",
    },
    CSRF: {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "With the session cookie, on every write: the session's CSRF token (each "
        "inbox page carries it). Without it a write answers 403.",
    },
}

# Swagger UI's React renders some inline styles and data: images; its script is ours alone.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)
STATIC = "/static/swagger-ui"
DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Partnerline API</title>
<link rel="stylesheet" href="{STATIC}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="{STATIC}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def _secure(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SCHEMES)
    for path, item in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            writes = method.upper() in UNSAFE_METHODS
            cookie: dict[str, list[str]] = {SESSION: [], CSRF: []} if writes else {SESSION: []}
            operation["security"] = [{BEARER: []}, cookie]
            if writes and "403" not in operation.get("responses", {}):
                operation.setdefault("responses", {})["403"] = {
                    "description": "A write with an inbox session but no (or a wrong) "
                    "X-CSRF-Token header.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    },
                }
    return schema


def install_api_docs(app: FastAPI) -> None:
    """The document with its security schemes, and /docs from local files. Build the app with
    `docs_url=None, redoc_url=None` (FastAPI's own pages load their scripts from a CDN)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _secure(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(
            DOCS_HTML,
            headers={
                "Content-Security-Policy": DOCS_CSP,
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "same-origin",
            },
        )
