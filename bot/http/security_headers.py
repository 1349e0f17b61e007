"""Security headers on every response: `X-Content-Type-Options: nosniff`, and HSTS over HTTPS.

`SecurityHeaders` is a pure ASGI middleware: it adds the headers to `http.response.start` and
passes every body message through untouched, so a streamed response (the inbox's live stream)
keeps streaming. `create_app` registers it outermost, around BodyLimits and UnexpectedErrors,
so that their 413s and 500s carry the headers as well. (The inbox pages' CSP and
X-Frame-Options are set with the page, in bot/http/web/templating.py.)

HTTPS is decided as the session cookie's `Secure` flag is (`bot.http.sessions.cookie_secure`): the
scheme the request arrived with (behind a proxy, uvicorn takes it from `X-Forwarded-Proto` when
the proxy is in FORWARDED_ALLOW_IPS), or a PUBLIC_URL that says https. HSTS goes without
includeSubDomains or preload: the operator's other hosts are not ours to pin to HTTPS.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings

NOSNIFF = (b"x-content-type-options", b"nosniff")
HSTS = (b"strict-transport-security", b"max-age=31536000")  # one year


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self._public_https = (settings.public_url or "").startswith("https:")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The rule of bot.http.sessions.cookie_secure, read from the scope: no Request built
        # for every webhook.
        https = scope.get("scheme") == "https" or self._public_https
        wanted = [NOSNIFF, HSTS] if https else [NOSNIFF]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in wanted if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
